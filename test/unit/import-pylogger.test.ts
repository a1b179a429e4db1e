// The stdlib-only Python logger (python/rl_lens_logger.py) writes runs that RL Lens's reader opens, with the values
// it was given (per-token arrays checked against the numbers the Python script logged, float32 tolerance).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { close, openRun, tmpDir, validateIfAvailable } from './import-helpers';

const PY = path.resolve(__dirname, '../../python');
const python = spawnSync('python3', ['--version']).status === 0 ? 'python3' : undefined;

function runPy(code: string, cwd: string): { status: number | null; out: string } {
  const r = spawnSync(python!, ['-I', '-S', '-c', `import sys; sys.path.insert(0, ${JSON.stringify(PY)})\n${code}`], { cwd, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('python logger: a GRPO-style run with per-token arrays opens with reader.ts, values intact', { skip: !python && 'python3 not installed' }, async () => {
  const dir = tmpDir('pylog');
  const run = path.join(dir, 'run');
  const code = `
import json, math
from rl_lens_logger import RunLogger
expect = {"steps": []}
with RunLogger(${JSON.stringify(run)}, algorithm="grpo", config={"lr": 1e-6, "group_size": 2, "obj": object.__name__}, task="arith", seed=3, total_steps=2) as log:
    for step in (1, 2):
        log.log_metrics(step, {"reward/mean": 0.5 * step, "kl": float("nan"), "note": "ignored", "ok": True})
        samples = []
        for g in range(2):
            for k in range(2):
                n = 2 + g + k
                lp = [-(0.1 * (t + 1) + 0.01 * step) for t in range(n)]
                ref = [x - 0.05 for x in lp]
                samples.append({"prompt": f"{g}+1=", "completion": "x" * n, "tokens": ["x"] * (n - 1) + ["<eos>"],
                                "reward": float(k), "reward_parts": {"accuracy": float(k)}, "advantage": k - 0.5,
                                "arrays": {"logprob": lp, "ref_logprob": ref, "advantage": [k - 0.5] * n, "my_metric": [float(t) for t in range(n)]},
                                "source_id": f"s{g}{k}"})
        log.log_rollouts(step, samples, params={"beta": 0.04}, compute_kl=True)
        expect["steps"].append(samples)
    log.log_eval(2, {1: 0.5, 2: 0.75}, samples_per_prompt=2, num_prompts=2, mean_reward=0.5)
print(json.dumps(expect))
`;
  const r = runPy(code, dir);
  assert.equal(r.status, 0, r.out);
  const expect = JSON.parse(r.out.trim().split('\n').pop()!) as { steps: { prompt: string; completion: string; tokens: string[]; reward: number; arrays: Record<string, number[]> }[][] };
  const opened = openRun(run);
  assert.equal(opened.manifest.status, 'completed');
  assert.equal(opened.manifest.algorithm, 'grpo');
  assert.equal(opened.manifest.totalSteps, 2);
  assert.equal(opened.manifest.step, 2);
  assert.equal(opened.manifest.config.obj, 'object');
  assert.equal(opened.metrics.length, 2);
  assert.equal(opened.metrics[1].values['reward/mean'], 1);
  assert.equal(opened.metrics[1].values.kl, null, 'NaN stored as null');
  assert.equal(opened.metrics[1].values.ok, 1);
  assert.equal('note' in opened.metrics[1].values, false);
  assert.deepEqual(opened.evals[0].passAtK, { 1: 0.5, 2: 0.75 });
  for (const [i, step] of [1, 2].entries()) {
    const st = opened.steps.get(step)!;
    assert.deepEqual(st.header.arrays, ['logprob', 'ref_logprob', 'kl', 'advantage', 'my_metric']);
    assert.deepEqual(st.header.params, { beta: 0.04 });
    assert.equal(st.header.groups.length, 2, "no group ids given: grouped by identical prompt");
    for (const g of st.header.groups) { assert.deepEqual(g.rewards, [0, 1]); assert.ok(close(g.mean, 0.5) && close(g.std, Math.SQRT1_2)); }
    const want = expect.steps[i];
    want.forEach((w, j) => {
      const s = st.samples[j];
      assert.equal(s.prompt, w.prompt);
      assert.deepEqual(s.tokens, w.tokens);
      assert.equal(s.reward, w.reward);
      assert.deepEqual((s.extra as Record<string, unknown>).source_id, (w as unknown as Record<string, string>).source_id);
      const a = st.arrays[j];
      for (let t = 0; t < s.length; t++) {
        assert.ok(close(a.logprob[t], w.arrays.logprob[t], 1e-6));
        assert.ok(close(a.ref_logprob[t], w.arrays.ref_logprob[t], 1e-6));
        assert.ok(Math.abs(a.kl[t] - (w.arrays.logprob[t] - w.arrays.ref_logprob[t])) < 1e-6, 'kl = logprob − ref_logprob');
        assert.equal(a.my_metric[t], t);
      }
    });
  }
  const v = await validateIfAvailable(run);
  if (v) assert.equal(v.code, 0, v.out);
});

test('python logger: a crash inside the with-block marks the run failed; bad arrays are a clear error; no overwrite', { skip: !python && 'python3 not installed' }, () => {
  const dir = tmpDir('pylog-fail');
  const run = path.join(dir, 'run');
  const r = runPy(`
from rl_lens_logger import RunLogger
try:
    with RunLogger(${JSON.stringify(run)}, algorithm="ppo") as log:
        log.log_metrics(1, {"loss": 1.0})
        log.log_rollouts(1, [{"prompt": "p", "completion": "c", "reward": 1.0, "tokens": ["a", "b"], "arrays": {"value": [0.1]}}])
except ValueError as e:
    print("ERR", e)
try:
    RunLogger(${JSON.stringify(run)}, algorithm="ppo")
except FileExistsError as e:
    print("EXISTS", e)
`, dir);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /ERR log_rollouts\(step=1\): sample 0 array 'value' has 1 values for 2 tokens/);
  assert.match(r.out, /EXISTS .*manifest.json already exists/);
  const m = JSON.parse(fs.readFileSync(path.join(run, 'manifest.json'), 'utf8'));
  assert.equal(m.status, 'failed');
  assert.match(m.error.message, /ValueError/);
  const events = fs.readFileSync(path.join(run, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => e.type), ['start', 'step', 'error', 'end']);
  assert.equal(events[3].status, 'failed');
});
