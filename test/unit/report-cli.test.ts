// `rl-lens report` end to end on a real tiny run (PRESETS.tiny, wasm): report object, cache, determinism,
// identical checkpoints, base = previous, usage errors. The CLI runs in-process (src/cli/report.ts `run`).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PRESETS, deepMerge, resolveConfig } from '../../src/trainer/config';
import '../../src/trainer/plugins'; // the entry point registers the algorithms (config.ts imports none)
import { runTraining } from '../../src/trainer/engine';
import { createTask } from '../../src/trainer/tasks';
import { run as report } from '../../src/cli/report';
import { REPORT_CACHE_FILE } from '../../src/report/cache';
import type { CheckpointReport } from '../../src/report/types';

let root: string; let runDir: string;
const ck = (n: string) => path.join(runDir, 'checkpoints', n);

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-report-cli-'));
  const cfg = resolveConfig(deepMerge(PRESETS.tiny(), { backend: 'wasm', train: { steps: 10 }, checkpoint: { every: 5 }, eval: { every: 0 } }));
  const res = await runTraining(cfg, { outDir: path.join(root, 'run'), progress: () => undefined });
  assert.equal(res.status, 'completed');
  runDir = res.runDir;
});
after(() => { fs.rmSync(root, { recursive: true, force: true }); });

async function rep(args: string[]): Promise<{ code: number; r?: CheckpointReport; ms: number; stderr: string }> {
  const out = path.join(root, `out-${Math.random().toString(36).slice(2)}.json`);
  const write = process.stderr.write.bind(process.stderr);
  let stderr = '';
  (process.stderr as unknown as { write: (s: string) => boolean }).write = (s: string) => { stderr += s; return true; };
  const t0 = Date.now();
  let code: number;
  try { code = await report([...args, '--json', '--out', out]); } finally { (process.stderr as unknown as { write: typeof write }).write = write; }
  const ms = Date.now() - t0;
  return { code, ms, stderr, r: fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, 'utf8')) as CheckpointReport : undefined };
}

/** C(n, k) with BigInt (independent of the product form used by passAtK). */
function comb(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let r = 1n;
  for (let i = 0; i < k; i++) r = (r * BigInt(n - i)) / BigInt(i + 1);
  return r;
}

test('report of a checkpoint against the previous one: tensors, fixed eval prompts, pass@k from the per-prompt counts', async () => {
  const { code, r, stderr } = await rep([ck('step_00000010'), '--base', 'previous', '--samples', '6', '--prompts', '5']);
  assert.equal(code, 0, stderr);
  assert.ok(r);
  assert.equal(r.checkpoint.step, 10);
  assert.equal(r.base?.name, 'step_00000005');
  assert.equal(r.tensors.count, 17);
  assert.equal(r.tensors.totalParams, r.tensors.rows.reduce((s, x) => s + x.params, 0));
  assert.ok(r.tensors.rows.every((x) => typeof x.relChange === 'number' && x.relChange > 0), '5 SFT steps move every tensor');
  // the task's fixed eval set, in order
  const task = createTask('arithmetic', { difficulty: 1 });
  const distinct = [...new Map(task.evalSet(5).map((e) => [e.prompt, e])).values()];
  assert.equal(distinct.length, 5, 'arithmetic difficulty 1 has ≥ 5 distinct eval prompts');
  assert.deepEqual(r.eval.generations.items.map((g) => g.prompt), distinct.map((e) => e.prompt));
  for (const g of r.eval.generations.items) assert.equal(g.reward, task.reward(distinct[g.index], g.completion, g.finished).score);
  const p = r.eval.passAtK;
  assert.deepEqual(p.k, [1, 2, 4, 6]);
  assert.equal(p.samples, 6);
  assert.equal(p.correctPerPrompt.length, 5);
  p.k.forEach((k, i) => {
    const want = p.correctPerPrompt.reduce((s, c) => s + (1 - Number(comb(6 - c, k)) / Number(comb(6, k))), 0) / 5;
    assert.ok(Math.abs(p.values[i] - want) < 1e-12, `pass@${k}: ${p.values[i]} vs ${want}`);
  });
  assert.ok(r.baseEval, 'base pass@k computed');
  assert.deepEqual(r.baseEval!.passAtK.k, p.k);
  assert.ok(fs.existsSync(path.join(ck('step_00000010'), REPORT_CACHE_FILE)), 'cached next to the checkpoint');
  assert.ok(fs.existsSync(path.join(ck('step_00000005'), REPORT_CACHE_FILE)), 'the base checkpoint\'s eval is cached too');
});

test('second call is served from the cache (same object, no model run); --no-cache recomputes the same greedy generations', async () => {
  const args = [ck('step_00000010'), '--base', ck('step_00000005'), '--samples', '6', '--prompts', '5'];
  const a = await rep(args);
  const b = await rep(args);
  assert.match(b.stderr, /from the cache/);
  assert.deepEqual(b.r, a.r);
  const c = await rep([...args, '--no-cache']);
  assert.deepEqual(c.r!.eval.generations, a.r!.eval.generations, 'greedy, fixed seed: deterministic');
  assert.deepEqual(c.r!.eval.passAtK, a.r!.eval.passAtK, 'sampling with a fixed seed: deterministic');
});

test('identical checkpoints (periodic and final of the last step): no generation or pass@k differences, zero change', async () => {
  const names = fs.readdirSync(path.join(runDir, 'checkpoints')).filter((n) => !n.startsWith('.')).sort();
  assert.ok(names.includes('step_00000010_final'), names.join(','));
  const a = await rep([ck('step_00000010'), '--base', ck('step_00000010'), '--samples', '4', '--prompts', '40']);
  const b = await rep([ck('step_00000010_final'), '--base', ck('step_00000010'), '--samples', '4', '--prompts', '40']);
  const prompts = a.r!.eval.generations.items.map((g) => g.prompt);
  assert.equal(new Set(prompts).size, prompts.length, 'each eval prompt once (the task repeats its eval set to fill 40)');
  assert.deepEqual(b.r!.eval.generations, a.r!.eval.generations);
  assert.deepEqual(b.r!.eval.passAtK, a.r!.eval.passAtK);
  assert.ok(b.r!.tensors.rows.every((x) => x.relChange === 0));
});

test('weights-only report (--no-generations) and clear usage errors', async () => {
  const w = await rep([ck('step_00000005'), '--no-generations']);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(w.r!.eval.generations.items.length, 0);
  assert.deepEqual(w.r!.eval.passAtK.k, []);
  const missing = await rep([path.join(root, 'nope')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope: not a checkpoint folder \(no checkpoint\.json\)/);
  const bad = await rep([ck('step_00000005'), '--samples', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--samples needs a positive integer/);
  const first = await rep([ck('step_00000005'), '--base', 'previous', '--no-generations']);
  assert.equal(first.code, 0);
  assert.equal(first.r!.base, undefined, 'the first checkpoint has no previous one');
});
