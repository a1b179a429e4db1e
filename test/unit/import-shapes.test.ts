// Issue 17 items 4-9: less common shapes of real TRL / RLLoggingBoard logs. The sources follow the trainers' own
// writers (quoted in src/importers/trainerState.ts, trl.ts, metricMap.ts):
// - transformers TrainerState.save_to_json: json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n",
//   written in place (a crash or a copy in progress leaves it cut mid-file); the fixture trainer_state.json was made
//   that way by test/fixtures/importers/make_fixtures.py.
// - TRL GRPOTrainer.log (huggingface/trl d2b69d769dab6f77acbfd33252bcd7d22765571b trl/trainer/grpo_trainer.py):
//   table = {"step", "prompt", "completion", **self._logs["rewards"], "advantage"} → completions_{step:05d}.parquet;
//   TRL v0.14.0 logged only the total: {"step": [str(step)]..., "prompt", "completion", "reward": rewards.tolist()}.
// - RLLoggingBoard: one json.dumps(...) line per sample; here without "response_tokens".
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { detectFormat, importRun, problemSummary } from '../../src/importers/index';
import { run as cliImport } from '../../src/cli/import';
import { readEvents } from '../../src/runio/reader';
import { FIX, openRun, tmpDir } from './import-helpers';
import { captureOutput } from './capture-output';

const TRL_SRC = path.join(FIX, 'trl/Qwen2-0.5B-GRPO');
const STATE_TEXT = fs.readFileSync(path.join(TRL_SRC, 'trainer_state.json'), 'utf8');
const STATE = JSON.parse(STATE_TEXT) as { log_history: Record<string, number>[]; global_step: number };

async function capture(argv: string[]): Promise<{ code: number; out: string }> {
  const r = await captureOutput(() => cliImport(argv));
  return { code: r.code, out: r.all };
}

function writeState(dir: string, name: string, state: unknown): string {
  fs.mkdirSync(dir, { recursive: true });
  const f = path.join(dir, name);
  // as TrainerState.save_to_json writes it
  fs.writeFileSync(f, JSON.stringify(state, Object.keys(flatKeys(state)).sort(), 2) + '\n');
  return f;
}
/** every key at any depth (JSON.stringify's replacer array = the key whitelist, sorted as sort_keys=True does) */
function flatKeys(v: unknown, out: Record<string, true> = {}): Record<string, true> {
  if (Array.isArray(v)) v.forEach((x) => flatKeys(x, out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { out[k] = true; flatKeys(x, out); }
  return out;
}

// ---------------------------------------------------------------------------------------------
// item 4: truncated trainer_state.json
// ---------------------------------------------------------------------------------------------

test('trl item 4: a trainer_state.json cut mid-file keeps every whole log_history entry, is marked partial, says what was lost', async () => {
  const dir = tmpDir('trl-cut');
  const src = path.join(dir, 'out');
  fs.mkdirSync(src);
  // cut inside the second log_history entry (as a crash during save_to_json leaves it)
  const at = STATE_TEXT.indexOf('"clip_ratio/high_max"', STATE_TEXT.indexOf('"log_history"') + 200);
  const cutText = STATE_TEXT.slice(0, at + 10);
  fs.writeFileSync(path.join(src, 'trainer_state.json'), cutText);
  const r = await importRun(src, { out: path.join(dir, 'run') });
  const run = openRun(r.runDir);
  assert.equal(run.metrics.length, 1, 'the one whole entry before the cut is kept');
  for (const [k, v] of Object.entries(STATE.log_history[0])) if (k !== 'step') assert.equal(run.metrics[0].values[k], v, `log_history[0].${k} kept`);
  assert.equal(run.metrics[0].values['response_length/mean'], STATE.log_history[0]['completions/mean_length']);
  // the problem: file, line of the cut, field, what was kept and lost
  const p = r.problems.find((x) => x.file.endsWith('trainer_state.json') && x.severity === 'error');
  assert.ok(p, JSON.stringify(r.problems));
  assert.equal(p.line, cutText.slice(0, cutText.lastIndexOf('{')).split('\n').length, 'the line where the text stops being whole: the start of the entry that was cut');
  assert.equal(p.field, 'log_history[1]');
  assert.match(p.message, /cut short at line \d+.*recovered the 1 whole log_history entry before the cut \(steps 1–1\).*lost: log_history\[1\] onwards \(global_step says the run reached step 2; 1 step\(s\) after the last recovered entry\).*max_steps/);
  // partial everywhere: result, manifest notes, events, CLI
  assert.equal(r.partial.length, 1);
  assert.equal(r.empty, false);
  assert.equal(run.manifest.status, 'completed');
  assert.ok(run.manifest.source?.notes?.some((n) => /^PARTIAL: trainer_state\.json is cut short/.test(n)), JSON.stringify(run.manifest.source?.notes));
  const events = readEvents(r.runDir, []);
  assert.ok(events.some((e) => e.type === 'warning' && e.code === 'import-partial' && /partial import: trainer_state\.json is cut short/.test(e.message)));
  const cli = await capture([src, '--out', path.join(dir, 'run-cli')]);
  assert.equal(cli.code, 0, cli.out);
  assert.match(cli.out, /^WARNING: PARTIAL import: trainer_state\.json is cut short at line \d+/m);
});

test('trl item 4: cut before any log_history entry → nothing imported: the run is marked failed (never "completed"), exit 1', async () => {
  const dir = tmpDir('trl-cut0');
  const src = path.join(dir, 'out');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'trainer_state.json'), STATE_TEXT.slice(0, STATE_TEXT.indexOf('"log_history"') + 30));
  const r = await importRun(src, { out: path.join(dir, 'run') });
  assert.equal(r.empty, true);
  const run = openRun(r.runDir);
  assert.equal(run.manifest.status, 'failed');
  assert.match(String((run.manifest.error as { message: string }).message), /nothing was imported .*trainer_state\.json:\d+: log_history\[0\]: file is cut short/);
  const events = readEvents(r.runDir, []);
  assert.equal(events[events.length - 1].type, 'end');
  assert.equal((events[events.length - 1] as { status: string }).status, 'failed');
  const cli = await capture([src, '--out', path.join(dir, 'run-cli')]);
  assert.equal(cli.code, 1, cli.out);
  assert.match(cli.out, /^ERROR: nothing was imported/m);
  // an intact state imports as before, whole: no partial flag
  const ok = await importRun(TRL_SRC, { out: path.join(dir, 'run-ok') });
  assert.deepEqual(ok.partial, []);
  assert.equal(ok.empty, false);
});

// ---------------------------------------------------------------------------------------------
// item 5: trainer states under other names
// ---------------------------------------------------------------------------------------------

test('trl item 5: a TrainerState under another name is detected by content, alone and next to completions/', async () => {
  const dir = tmpDir('trl-name');
  const alone = writeState(path.join(dir, 'a'), 'stage4_trainer_state.json', STATE);
  const d = detectFormat(alone);
  assert.equal(d.format, 'trl');
  assert.match(d.reason, /stage4_trainer_state\.json holds a transformers\/TRL TrainerState .*detected by content/);
  const r1 = await importRun(alone, { out: path.join(dir, 'run1') });
  assert.equal(r1.counts.metricsRecords, 2, 'two steps; the end-of-training summary entry merges into the last');
  // next to completions/: both imported
  const src = path.join(dir, 'b');
  fs.cpSync(path.join(TRL_SRC, 'completions'), path.join(src, 'completions'), { recursive: true });
  writeState(src, 'stage4_trainer_state.json', STATE);
  const d2 = detectFormat(src);
  assert.match(d2.reason, /2 completions parquet file\(s\), stage4_trainer_state\.json \(a TrainerState, detected by content\)/);
  const r2 = await importRun(src, { out: path.join(dir, 'run2') });
  const run = openRun(r2.runDir);
  assert.equal(run.steps.size, 2);
  assert.equal(run.metrics.length, 2, 'metrics from stage4_trainer_state.json, not derived from the completions');
  assert.equal(run.metrics[0].values.learning_rate, STATE.log_history[0].learning_rate);
  assert.ok(!r2.notes.some((n) => /derived from the completions/.test(n)));
  // a .json that is not a TrainerState is not taken for one
  const other = path.join(dir, 'c');
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, 'config.json'), JSON.stringify({ log_history_size: 3 }));
  assert.equal(detectFormat(path.join(other, 'config.json')).format, undefined);
  assert.equal(detectFormat(other).format, undefined);
  // two states: the newest is imported, the other reported
  writeState(src, 'stage3_trainer_state.json', STATE);
  const t = Date.now() / 1000;
  fs.utimesSync(path.join(src, 'stage3_trainer_state.json'), t - 100, t - 100);
  const r3 = await importRun(src, { out: path.join(dir, 'run3') });
  assert.ok(r3.problems.some((p) => p.file.endsWith('stage3_trainer_state.json') && /1 more TrainerState file\(s\) .*besides stage4_trainer_state\.json, which is the one imported/.test(p.message)), JSON.stringify(r3.problems));
});

// ---------------------------------------------------------------------------------------------
// item 6: a total reward column
// ---------------------------------------------------------------------------------------------

function writeCompletions(dir: string, step: number, cols: Record<string, (string | number)[]>): void {
  fs.mkdirSync(path.join(dir, 'completions'), { recursive: true });
  const columnData = Object.entries(cols).map(([name, data]) => ({ name, data, type: typeof data[0] === 'string' ? 'STRING' as const : 'DOUBLE' as const }));
  fs.writeFileSync(path.join(dir, 'completions', `completions_${String(step).padStart(5, '0')}.parquet`), Buffer.from(parquetWriteBuffer({ columnData })));
}

test('trl item 6: a total "reward" column next to per-function columns is the total, never one more part', async () => {
  const dir = tmpDir('trl-total');
  const src = path.join(dir, 'src');
  writeCompletions(src, 1, {
    step: ['1', '1', '1', '1'], prompt: ['p', 'p', 'q', 'q'], completion: ['a', 'b', 'c', 'd'],
    accuracy_reward: [1, 0, 0, 1], format_reward: [0, 0, 1, 1], reward: [1, 0, 1, 2], advantage: [0.7, -0.7, -0.7, 0.7],
  });
  const r = await importRun(src, { out: path.join(dir, 'run') });
  assert.equal(r.problemCount, 0, JSON.stringify(r.problems));
  const s = openRun(r.runDir).steps.get(1)!.samples;
  assert.deepEqual(s.map((x) => x.reward), [1, 0, 1, 2], 'sample reward = the total (1, not 2 for row 1)');
  assert.deepEqual(s[0].rewardParts, { accuracy_reward: 1, format_reward: 0 }, 'the total is not a part');
  assert.ok(r.notes.some((n) => /column "reward" equals the sum of the reward-function columns "accuracy_reward", "format_reward" on all 4 row\(s\)/.test(n)));

  // a total that is not the sum (reward_weights 1 and 0.5): the recorded total is kept, the difference reported once
  const src2 = path.join(dir, 'src2');
  writeCompletions(src2, 1, { step: ['1', '1'], prompt: ['p', 'p'], completion: ['a', 'b'], accuracy_reward: [1, 0], format_reward: [1, 1], reward: [1.5, 0.5] });
  const r2 = await importRun(src2, { out: path.join(dir, 'run2') });
  assert.deepEqual(openRun(r2.runDir).steps.get(1)!.samples.map((x) => x.reward), [1.5, 0.5], 'never invented: the recorded total');
  assert.equal(r2.problemCount, 1);
  assert.equal(r2.problems[0].line, 1);
  assert.match(r2.problems[0].message, /column "reward" is not the sum of the other numeric columns "accuracy_reward", "format_reward" on 2 of 2 row\(s\) \(first: row 1: reward=1\.5, sum=2\)/);

  // TRL v0.14-0.16: only the total
  const src3 = path.join(dir, 'src3');
  writeCompletions(src3, 1, { step: ['1', '1'], prompt: ['p', 'p'], completion: ['a', 'b'], reward: [2, 0.5] });
  const r3 = await importRun(src3, { out: path.join(dir, 'run3') });
  const s3 = openRun(r3.runDir).steps.get(1)!.samples;
  assert.deepEqual(s3.map((x) => x.reward), [2, 0.5]);
  assert.equal(s3[0].rewardParts, undefined, 'no per-function columns: no parts');

  // no reward column at all: not invented silently
  const src4 = path.join(dir, 'src4');
  writeCompletions(src4, 1, { step: ['1', '1'], prompt: ['p', 'p'], completion: ['a', 'b'] });
  const r4 = await importRun(src4, { out: path.join(dir, 'run4') });
  assert.equal(r4.problemCount, 1);
  assert.match(r4.problems[0].message, /no reward column .* the 2 row\(s\) have no reward; shown as 0 and marked extra\.reward_missing/);
});

test('trl item 6: the trainer state names the reward functions; other numeric columns (log_extra) are not added to the reward', async () => {
  const dir = tmpDir('trl-extra');
  const src = path.join(dir, 'src');
  writeCompletions(src, 1, { step: ['1', '1'], prompt: ['p', 'p'], completion: ['a', 'b'], accuracy_reward: [1, 0], num_tool_calls: [3, 5] });
  writeState(src, 'trainer_state.json', { global_step: 1, logging_steps: 1, max_steps: 1, log_history: [{ step: 1, reward: 0.5, 'rewards/accuracy_reward/mean': 0.5, 'rewards/accuracy_reward/std': 0.7, loss: 0 }] });
  const r = await importRun(src, { out: path.join(dir, 'run') });
  const s = openRun(r.runDir).steps.get(1)!.samples;
  assert.deepEqual(s.map((x) => x.reward), [1, 0]);
  assert.deepEqual(s[1].rewardParts, { accuracy_reward: 0 });
  assert.equal((s[1].extra as Record<string, unknown>).num_tool_calls, 5);
  assert.ok(r.notes.some((n) => /"num_tool_calls" are not reward functions of the trainer state/.test(n)));
  assert.equal(r.problemCount, 0, JSON.stringify(r.problems));
});

// ---------------------------------------------------------------------------------------------
// item 7: metric names of every TRL version family (and OpenRLHF's, verl's older ones)
// ---------------------------------------------------------------------------------------------

async function importHistory(tag: string, entries: Record<string, number>[]): Promise<Record<string, number | null>[]> {
  const dir = tmpDir(tag);
  const f = writeState(dir, 'trainer_state.json', { global_step: entries.length, logging_steps: 1, max_steps: entries.length, log_history: entries });
  const r = await importRun(f, { out: path.join(dir, 'run') });
  assert.equal(r.problemCount, 0, JSON.stringify(r.problems));
  return openRun(r.runDir).metrics.map((m) => m.values);
}

test('trl item 7: GRPO 0.14-0.16 names (completion_length, rewards/<f>, clip_ratio) → RL Lens names', async () => {
  // keys as TRL v0.14.0 compute_loss logs them (self._metrics["completion_length"], f"rewards/{reward_func_name}", ...)
  const [v] = await importHistory('trl-v014', [{ step: 5, loss: 0.01, grad_norm: 1.5, learning_rate: 1e-6, epoch: 0.1, completion_length: 123.5, 'rewards/accuracy_reward': 0.25, 'rewards/format_reward': 0.5, reward: 0.75, reward_std: 0.4, kl: 0.002, clip_ratio: 0.03 }]);
  assert.equal(v['response_length/mean'], 123.5);
  assert.equal(v['reward/accuracy_reward/mean'], 0.25);
  assert.equal(v['reward/format_reward/mean'], 0.5);
  assert.equal(v['reward/mean'], 0.75);
  assert.equal(v['reward/std'], 0.4);
  assert.equal(v.kl, 0.002);
  assert.equal(v['clip_ratio/region_mean'], 0.03);
  assert.equal(v.lr, 1e-6);
  assert.equal(v.completion_length, 123.5, 'original kept');
});

test('trl item 7: GRPO ≥ 0.17 names (completions/*, rewards/<f>/mean|std, clip_ratio/*) → RL Lens names', async () => {
  const [v] = await importHistory('trl-v017', [STATE.log_history[0]]);
  assert.equal(v['response_length/mean'], STATE.log_history[0]['completions/mean_length']);
  assert.equal(v['response_length/clip_ratio'], STATE.log_history[0]['completions/clipped_ratio']);
  assert.equal(v['reward/accuracy_reward/mean'], STATE.log_history[0]['rewards/accuracy_reward/mean']);
  assert.equal(v['reward/format_reward/std'], STATE.log_history[0]['rewards/format_reward/std']);
  assert.equal(v.entropy, STATE.log_history[0].entropy);
});

test('trl item 7: PPO/RLOO ≥ 0.12 names (objective/*, policy/*, loss/*, val/*) → RL Lens names; DPO rewards/chosen untouched', async () => {
  const [v] = await importHistory('trl-ppo', [{ step: 3, eps: 12, 'objective/kl': 4.2, 'objective/entropy': 80, 'objective/non_score_reward': -0.2, 'objective/rlhf_reward': 1.1, 'objective/scores': 1.3, 'policy/approxkl_avg': 0.01, 'policy/clipfrac_avg': 0.05, 'loss/policy_avg': -0.02, 'loss/value_avg': 0.3, 'val/clipfrac_avg': 0.1, 'policy/entropy_avg': 1.7, 'val/ratio': 1.0, lr: 3e-6, episode: 64 }]);
  assert.equal(v['reward/mean'], 1.3);
  assert.equal(v['reward_with_kl/mean'], 1.1);
  assert.equal(v.approx_kl, 0.01);
  assert.equal(v['clip_ratio/region_mean'], 0.05);
  assert.equal(v.pg_loss, -0.02);
  assert.equal(v.vf_loss, 0.3);
  assert.equal(v.vf_clipfrac, 0.1);
  assert.equal(v.entropy, 1.7);
  assert.equal(v.kl, undefined, 'objective/kl is a sequence sum, not RL Lens\'s per-token kl');
  const [d] = await importHistory('trl-dpo', [{ step: 1, 'rewards/chosen': 0.5, 'rewards/rejected': -0.5, 'rewards/margins': 1, 'rewards/accuracies': 1, loss: 0.6 }]);
  assert.equal(d['reward/chosen/mean'], undefined);
  assert.equal(d['rewards/chosen'], 0.5);
});

test('item 7: older verl (critic/kl, actor/entropy_loss) and OpenRLHF (train/policy_loss ...) metric lines → RL Lens names', async () => {
  const dir = tmpDir('verl-old');
  const src = path.join(dir, 'logs');
  fs.mkdirSync(src);
  // FileLogger lines {"step", "data"} (verl/utils/tracking.py); an OpenRLHF wandb history exported in the same shape
  fs.writeFileSync(path.join(src, 'old.jsonl'), [
    JSON.stringify({ step: 1, data: { 'critic/kl': 0.01, 'critic/kl_coeff': 0.001, 'actor/entropy_loss': 1.2, 'critic/score/mean': 0.5 } }),
    JSON.stringify({ step: 2, data: { 'train/policy_loss': -0.1, 'train/actor_lr': 1e-6, 'train/ppo_clip_ratio': 0.02, 'train/ppo_kl': 0.003, 'train/kl': 0.04, 'train/reward': 0.7, 'train/response_length': 300, 'train/entropy_loss': 0.9, 'train/global_step': 2 } }),
  ].join('\n') + '\n');
  const r = await importRun(src, { out: path.join(dir, 'run'), from: 'verl' });
  assert.equal(r.problemCount, 0, JSON.stringify(r.problems));
  const [a, b] = openRun(r.runDir).metrics.map((m) => m.values);
  assert.equal(a.kl, 0.01);
  assert.equal(a.kl_coef, 0.001);
  assert.equal(a.entropy, 1.2);
  assert.equal(b.pg_loss, -0.1);
  assert.equal(b.lr, 1e-6);
  assert.equal(b['clip_ratio/region_mean'], 0.02);
  assert.equal(b.approx_kl, 0.003);
  assert.equal(b.kl, 0.04);
  assert.equal(b['reward/mean'], 0.7);
  assert.equal(b['response_length/mean'], 300);
  assert.equal(b.entropy, 0.9);
});

// ---------------------------------------------------------------------------------------------
// item 8: RLLoggingBoard without response_tokens
// ---------------------------------------------------------------------------------------------

test('rllb item 8: lines without response_tokens → one warning with the count and first line, truthful summary and detection reason', async () => {
  const dir = tmpDir('rllb-notok-many');
  const src = path.join(dir, 'src');
  fs.mkdirSync(src);
  const lines: string[] = [];
  for (let i = 0; i < 300; i++) lines.push(JSON.stringify({ prompt: `p${i % 30}`, response: `r${i}`, reward: i % 2, step: Math.floor(i / 100) }));
  fs.writeFileSync(path.join(src, 'rollout_data_rank0.jsonl'), lines.join('\n') + '\n');
  const d = detectFormat(src);
  assert.equal(d.format, 'rllb');
  assert.match(d.reason, /lines have prompt\/response\/reward \(no response_tokens, no logprobs\)/);
  assert.doesNotMatch(d.reason, /lines have [^(]*response_tokens/);
  const r = await importRun(src, { out: path.join(dir, 'run') });
  assert.equal(r.counts.samples, 300);
  assert.equal(r.problemCount, 1);
  assert.equal(r.problems[0].line, 1);
  assert.match(r.problems[0].message, /^all 300 line\(s\) have no "response_tokens" \(first: line 1\)/);
  assert.equal(problemSummary(r.problems, r.problemCount), '1 problem(s): 0 error(s), 1 warning(s); nothing was skipped (every line was kept)');
  const events = readEvents(r.runDir, []);
  const w = events.find((e): e is Extract<typeof e, { type: 'warning' }> => e.type === 'warning' && e.code === 'import-problems');
  assert.ok(w && /nothing was skipped/.test(w.message) && !/reported and skipped/.test(w.message), JSON.stringify(w));
  const cli = await capture([src, '--out', path.join(dir, 'run-cli')]);
  assert.match(cli.out, /^1 problem\(s\): 0 error\(s\), 1 warning\(s\); nothing was skipped/m);
  assert.doesNotMatch(cli.out, /reported and skipped/);
});

// ---------------------------------------------------------------------------------------------
// item 9: completions and trainer state from different runs
// ---------------------------------------------------------------------------------------------

test('trl item 9: completions and a trainer_state of different runs → a warning with the evidence; the same run → none', async () => {
  const dir = tmpDir('trl-mix');
  const same = await importRun(TRL_SRC, { out: path.join(dir, 'run-same') });
  assert.ok(!same.problems.some((p) => /different runs/.test(p.message)), 'the fixture (one run) is consistent');
  const src = path.join(dir, 'src');
  fs.cpSync(path.join(TRL_SRC, 'completions'), path.join(src, 'completions'), { recursive: true });
  // another run's state: other rewards at the same steps, and no entry for step 2
  const other = { ...STATE, log_history: [{ ...STATE.log_history[0], 'rewards/accuracy_reward/mean': 0.9, 'rewards/format_reward/mean': 0.05, reward: 0.95 }, { step: 3, loss: 0.1, reward: 1.0 }] };
  writeState(src, 'trainer_state.json', other);
  const r = await importRun(src, { out: path.join(dir, 'run') });
  const p = r.problems.find((x) => /look like different runs/.test(x.message));
  assert.ok(p, JSON.stringify(r.problems));
  assert.equal(p.severity, 'warning');
  assert.match(p.message, /completions of step\(s\) 2 have no log_history entry/);
  assert.match(p.message, /at 1 of 1 common step\(s\) the completions' mean reward differs from log_history's \(with logging_steps 1 they are the same batch\): step 1: [\d.]+ in the completions vs 0\.9000 in log_history/);
});
