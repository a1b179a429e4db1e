// verl console logs (trainer.logger=['console'], verl's default): `step:N - name:value - ...` lines among Ray prefixes,
// ANSI colour, tqdm bars, warnings and tracebacks become metrics records; everything else is counted and skipped.
//
// What verl prints (quoted in src/importers/verlConsole.ts and test/fixtures/importers/make_verl_console.py):
//   volcengine/verl 6f8f46e17a8aaab4743b3ae6dc6410c93cdd1e9e verl/utils/logger/aggregate_logger.py, concat_dict_to_str:
//       output = [f"step:{step}"] ... output.append(f"{k}:{v:.3f}") ... output_str = " - ".join(output)
//   verl-project/verl b017a83320fdbc6c4e76efe499dc5f3f4aec76af, same file:
//       output.append(f"{k}:{pprint.pformat(v)}")
//   LocalLogger.log: print(concat_dict_to_str(data, step=step), flush=True)
// Fixtures: verl/console/verl_v02_ppo.log and verl_grpo_new.log (written by make_verl_console.py with that code;
// expected.json = the logged dicts and the printed strings), verl_docs_quickstart.log (the two lines of verl's docs
// quickstart, docs/start/quickstart.rst, copied byte for byte).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run as doctorCli } from '../../src/cli/doctor';
import { detectFormat, followForeignRun, importRun, type ImportResult } from '../../src/importers/index';
import { parseConsoleLine, parseConsoleValue } from '../../src/importers/verlConsole';
import { captureOutput } from './capture-output';
import { FIX, close, openRun, tmpDir, waitFor } from './import-helpers';

const DIR = path.join(FIX, 'verl/console');
type Logged = { step: number; data: Record<string, number | null>; printed: Record<string, string> };
const EXPECTED = JSON.parse(fs.readFileSync(path.join(DIR, 'expected.json'), 'utf8')) as Record<string, Logged[]>;
const ROOT = path.resolve(__dirname, '../..');

async function doctorDoesNotCrash(runDir: string): Promise<void> {
  const { code, all: out } = await captureOutput(() => doctorCli([runDir]));
  assert.ok(code === 0 || code === 1, `doctor exit ${code}: ${out}`);
  assert.match(out, /rl-lens doctor: .*metrics/);
  // and the shipped command line, when built (`node scripts/build.mjs`)
  if (fs.existsSync(path.join(ROOT, 'dist/trainer.js'))) {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/rl-lens.js'), 'doctor', runDir], { encoding: 'utf8', timeout: 60_000 });
    assert.ok(r.status === 0 || r.status === 1, `node bin/rl-lens.js doctor exit ${r.status}: ${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stderr, /TypeError|RangeError|at .*\.js:\d+/);
  }
}

test('verl console: line shapes (Ray prefixes, ANSI, tqdm glue, timestamps) and value reprs', () => {
  const m = (l: string) => { const c = parseConsoleLine(l); assert.equal(c.kind, 'metrics', l); return c as Extract<typeof c, { kind: 'metrics' }>; };
  assert.deepEqual(m('step:0 - val/test_score/openai/gsm8k:0.133').data, { 'val/test_score/openai/gsm8k': 0.133 });
  assert.equal(m('(TaskRunner pid=480334) step:0 - a:1').step, 0);
  assert.equal(m('(main_task pid=2841) step:7 - a:1').step, 7);
  assert.equal(m('(TaskRunner pid=15930, ip=10.4.1.33) step:2 - a:1').step, 2);
  assert.deepEqual(m('\x1b[36m(TaskRunner pid=42)\x1b[0m step:151 - group/effective_ratio:0.5 - actor/ppo_kl:np.float64(0.0042)').data, { 'group/effective_ratio': 0.5, 'actor/ppo_kl': 0.0042 });
  assert.equal(m('Training Progress:  20%|██        | 1/5 [01:21<05:25, 81.49s/it]step:2 - train/loss:0.25').step, 2, 'glued behind a tqdm bar');
  assert.equal(m('Training Progress:  20%|██ | 1/5\rstep:3 - a:1').step, 3, "after tqdm's \\r");
  assert.equal(m('2025-06-01T10:00:00.123456789Z (TaskRunner pid=1) step:5 - a:-0.005').data.a, -0.005, 'docker/k8s timestamp');
  assert.equal(m('(TaskRunner pid=1) step:4 - a:1 [repeated 2x across cluster]').data.a, 1);
  assert.deepEqual(m('step:9 - lr:1e-06 - n:12 - ok:True - x:nan - y:-inf - z:np.int64(3) - w:np.float32(0.5)').data, { lr: 1e-6, n: 12, ok: 1, x: NaN, y: -Infinity, z: 3, w: 0.5 });
  assert.deepEqual(m('step:1 - critic/lr(1e-4):0.100 - actor/pg_loss:-0.005').data, { 'critic/lr(1e-4)': 0.1, 'actor/pg_loss': -0.005 });
  assert.equal(m('step:1 - a:0.100 - b:-0.005').rounded3, true);
  assert.equal(m('step:1 - a:0.1 - b:-0.005').rounded3, false);
  // not metric lines: step inside longer names, prose
  for (const l of ['(TaskRunner pid=1) timing_s/step:1.25', 'val/global_step:12 something', 'saved to /ckpt/global_step:9/actor',
    'training/global_step:10.000 - x:1', 'we are at step:3 of the plan', 'Training Progress:   0%|          | 0/3 [00:00<?, ?it/s]']) {
    assert.notEqual(parseConsoleLine(l).kind, 'metrics', l);
  }
  assert.equal(parseConsoleLine('(TaskRunner pid=1) ("Initial validation metrics: {\'val/x\': "').kind, 'val-summary');
  assert.equal(parseConsoleLine('    - critic/vf_loss:14.947 - critic/vf_clipfrac:0.000').kind, 'continuation');
  assert.equal(parseConsoleValue("Decimal('1.5')"), undefined);
});

test('verl console, older verl ({v:.3f}): detected, every printed value read, names mapped, noise counted', async () => {
  const src = path.join(DIR, 'verl_v02_ppo.log');
  const d = detectFormat(src);
  assert.equal(d.format, 'verl');
  assert.match(d.reason, /verl console log.*first at line 12/);
  const out = path.join(tmpDir('verl-console-old'), 'run');
  const r = await importRun(src, { out });
  assert.equal(r.problemCount, 0, JSON.stringify(r.problems));
  assert.equal(r.empty, false);
  // 17 lines: 3 step lines, 3 lines of pprint-ed validation summaries, 11 others (command, Ray, config dump, warnings)
  assert.equal(r.counts.consoleLines, 17);
  assert.equal(r.counts.consoleMetricLines, 3);
  assert.equal(r.counts.consoleValidationSummaryLines, 3);
  assert.equal(r.counts.consoleOtherLines, 11);
  const run = openRun(out);
  assert.equal(run.manifest.algorithm, 'ppo', 'critic/vf_loss present');
  assert.equal(run.manifest.status, 'completed');
  assert.deepEqual([...run.steps.keys()], [], 'no rollouts');
  const notes = (run.manifest.source?.notes ?? []).join('\n');
  assert.match(notes, /console logs hold no rollouts/);
  assert.match(notes, /3 decimals/);
  const exp = EXPECTED['verl_v02_ppo.log'];
  assert.equal(run.metrics.length, exp.length);
  exp.forEach((e, i) => {
    const v = run.metrics[i].values;
    assert.equal(run.metrics[i].step, e.step);
    for (const [k, printed] of Object.entries(e.printed)) {
      assert.ok(v[k] === Number(printed), `step ${e.step} ${k}: ${v[k]} is the printed ${printed}`); // === : "-0.000" is stored as 0
      assert.ok(Math.abs((v[k] as number) - (e.data[k] as number)) <= 0.0005 + 1e-12, `step ${e.step} ${k} within rounding of the logged ${e.data[k]}`);
    }
  });
  assert.equal(run.metrics[0].split, 'eval', 'step 0: validation before training only');
  const s1 = run.metrics[1].values;
  assert.equal(s1['reward/mean'], 0.004);
  assert.equal(s1.vf_loss, 14.947);
  assert.equal(s1.entropy, 0.433, 'older actor/entropy_loss');
  assert.equal(s1['timing/gen_s'], 21.47, 'older timing/gen');
  assert.ok(close(s1.lr as number, 1e-6), 'actor/lr(1e-4) 0.010 → lr 1e-6');
  assert.equal(s1['critic/lr(1e-4)'], 0.1, 'original kept');
  await doctorDoesNotCrash(out);
});

test('verl console, current verl (pprint.pformat, numpy scalars): exact values, NaN, tqdm glue, torn last line, traceback', async () => {
  const src = path.join(DIR, 'verl_grpo_new.log');
  const out = path.join(tmpDir('verl-console-new'), 'run');
  const r = await importRun(src, { from: 'verl', out });
  const at = (line: number): string => r.problems.filter((p) => p.line === line).map((p) => `${p.severity}:${p.field ?? ''}:${p.message}`).join(' | ');
  assert.equal(r.problemCount, 2, JSON.stringify(r.problems));
  assert.match(at(15), /^warning:actor\/ppo_kl:value is NaN/);
  assert.match(at(22), /^warning::torn last line/);
  assert.equal(r.counts.consoleMetricLines, 4, 'steps 0, 1, 2 and the torn step 3');
  const run = openRun(out);
  assert.equal(run.manifest.algorithm, 'grpo');
  const exp = EXPECTED['verl_grpo_new.log'];
  assert.deepEqual(run.metrics.map((m) => m.step), [0, 1, 2], 'the torn step 3 is not imported');
  exp.forEach((e, i) => {
    const v = run.metrics[i].values;
    for (const [k, x] of Object.entries(e.data)) assert.equal(v[k], x, `step ${e.step} ${k}: exactly the logged value`);
  });
  const s1 = run.metrics[1].values;
  const d1 = exp[1].data;
  assert.equal(s1['reward/mean'], d1['critic/score/mean']);
  assert.equal(s1.entropy, d1['actor/entropy']);
  assert.equal(s1.kl, d1['actor/kl_loss']);
  assert.equal(s1.approx_kl, d1['actor/ppo_kl']);
  assert.equal(s1.lr, 1e-6);
  assert.equal(s1['perf/step_time'], d1['timing_s/step']);
  assert.equal(run.metrics[2].values.approx_kl, null, 'NaN stored as missing');
  assert.equal(run.metrics[2].values['val-core/openai/gsm8k/acc/mean@1'], 0.2024260803639121, 'the line glued behind the tqdm bar');
  assert.equal(run.metrics[0].split, 'eval');
  assert.equal(run.metrics[1].split, undefined);
  const notes = (run.manifest.source?.notes ?? []).join('\n');
  assert.match(notes, /traceback \(first at verl_grpo_new\.log:18\)/);
  assert.match(notes, /numpy scalar/);
  assert.doesNotMatch(notes, /3 decimals/);
  await doctorDoesNotCrash(out);
});

test("verl console, the docs quickstart's lines: values as printed, a name twice on one line, older lr", async () => {
  const src = path.join(DIR, 'verl_docs_quickstart.log');
  const out = path.join(tmpDir('verl-console-docs'), 'run');
  const r = await importRun(src, { out });
  assert.equal(r.problemCount, 1);
  assert.equal(r.problems[0].line, 2);
  assert.equal(r.problems[0].field, 'actor/reward_kl_penalty');
  assert.match(r.problems[0].message, /appears twice.*last value is kept/);
  const run = openRun(out);
  const [a, b] = run.metrics.map((m) => m.values);
  // step:0 - ... critic/vf_loss:14.947 ... actor/entropy_loss:0.433 - actor/pg_loss:-0.005 ... critic/score/mean:0.004 ...
  assert.equal(a['critic/vf_loss'], 14.947); assert.equal(a.vf_loss, 14.947);
  assert.equal(a.entropy, 0.433); assert.equal(a.pg_loss, -0.005);
  assert.equal(a['reward/mean'], 0.004); assert.equal(a['critic/values/min'], -14);
  assert.ok(a['critic/advantages/mean'] === 0, '"-0.000"'); assert.equal(a.kl, 0); assert.equal(a.kl_coef, 0.001);
  assert.equal(a['response_length/mean'], 239.133);
  // step:1 - ... actor/reward_kl_penalty:0.000 - actor/reward_kl_penalty:0.001 ... critic/vf_clipfrac:0.384
  assert.equal(b['actor/reward_kl_penalty'], 0.001); assert.equal(b.kl, 0.001);
  assert.equal(b.vf_clipfrac, 0.384); assert.equal(b['prompt_length/max'], 185);
  assert.ok(close(b.lr as number, 1e-6));
  await doctorDoesNotCrash(out);
});

test('verl console: folders (detected among other files; other text files left alone; the file logger wins)', async () => {
  const dir = tmpDir('verl-console-dir');
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(path.join(logs, 'slurm'), { recursive: true });
  fs.writeFileSync(path.join(logs, 'README.txt'), 'notes about step:3 of the plan\n');
  fs.copyFileSync(path.join(DIR, 'verl_grpo_new.log'), path.join(logs, 'slurm/job-1234.out'));
  const d = detectFormat(logs);
  assert.equal(d.format, 'verl');
  assert.match(d.reason, /slurm[\\/]job-1234\.out: verl console log/);
  const r = await importRun(logs, { out: path.join(dir, 'run') });
  assert.equal(r.counts.consoleFiles, 1, 'README.txt is not a console log');
  assert.equal(openRun(r.runDir).metrics.length, 3);
  // only unrelated text: not verl
  const other = path.join(dir, 'other');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'notes.txt'), 'hello\n');
  assert.equal(detectFormat(other).format, undefined);
  // a log that has not reached its first step yet is a verl console log by its start-up output
  const early = path.join(dir, 'early.log');
  fs.writeFileSync(early, '(TaskRunner pid=480334) {\'actor_rollout_ref\': {\n');
  assert.match(detectFormat(early).reason, /no metric line yet/);
  // file logger + console log of the same run: the JSONL is imported, the console step lines are not (no doubles)
  const both = path.join(dir, 'both');
  fs.mkdirSync(both);
  fs.copyFileSync(path.join(FIX, 'verl/gsm8k_grpo/metrics/verl_grpo_example_gsm8k/qwen2_5_0_5b.jsonl'), path.join(both, 'metrics.jsonl'));
  fs.copyFileSync(path.join(DIR, 'verl_v02_ppo.log'), path.join(both, 'train.log'));
  const rb = await importRun(both, { out: path.join(dir, 'run-both') });
  const nFile = fs.readFileSync(path.join(both, 'metrics.jsonl'), 'utf8').trim().split('\n').length;
  assert.equal(openRun(rb.runDir).metrics.length, nFile);
  assert.match(rb.notes.join('\n'), /file-logger JSONL is present/);
});

test('verl console: live follow picks up appended lines; a torn step line is waited for; a tqdm tail is not a problem', async () => {
  const dir = tmpDir('verl-console-follow');
  const src = path.join(dir, 'train.log');
  const text = fs.readFileSync(path.join(DIR, 'verl_v02_ppo.log'), 'utf8');
  const lines = text.split('\n'); // 17 lines + '' (trailing newline)
  const step1 = lines.findIndex((l) => l.includes('step:1 - '));
  // the start, up to step 0, and half of the step-1 line (verl is printing it)
  fs.writeFileSync(src, lines.slice(0, step1).join('\n') + '\n' + lines[step1].slice(0, 80));
  const updates: ImportResult[] = [];
  const out = path.join(dir, 'run');
  const f = followForeignRun(src, out, (r) => updates.push(r), { from: 'verl', intervalMs: 50, staleTailMs: 100 });
  const first = await f.ready;
  assert.equal(first.counts.metricsRecordsWritten, 1, 'step 0');
  await new Promise((res) => setTimeout(res, 250));
  assert.equal(f.snapshot().problemCount, 1, 'a step line without newline for longer than staleTailMs is reported (warning)');
  assert.equal(f.snapshot().problems[0].severity, 'warning');
  // the rest of the line arrives, then a tqdm bar without newline (normal in console logs: never reported)
  fs.appendFileSync(src, lines[step1].slice(80) + '\n' + lines.slice(step1 + 1).join('\n') + 'Training Progress:  50%|█████     | 1/2 [00:54<00:54]');
  await waitFor(() => f.snapshot().counts.metricsRecordsWritten === 3);
  await new Promise((res) => setTimeout(res, 250));
  assert.equal(f.snapshot().problemCount, 0, 'the torn step line was completed; a tqdm tail is not a problem');
  assert.equal(openRun(out).manifest.status, 'running');
  const fin = await f.finish();
  assert.equal(fin.problemCount, 0);
  assert.ok(updates.length >= 2);
  const live = openRun(out);
  assert.equal(live.manifest.status, 'completed');
  const once = await importRun(path.join(DIR, 'verl_v02_ppo.log'), { out: path.join(dir, 'once') });
  assert.deepEqual(live.metrics, openRun(once.runDir).metrics, 'live = one-shot import');
});
