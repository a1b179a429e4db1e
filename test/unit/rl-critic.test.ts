/**
 * The PPO critic learns (wasm backend, tiny GPT, real RL loop `runRl` → rlStep → GAE → clipped value loss → AdamW).
 *
 * On the built-in arithmetic task `vf_explained_var` stays ≈ 0 for a tiny critic (docs/algorithms.md, "Why PPO's explained
 * variance is ≈ 0 on arithmetic"). These tests use tasks whose value IS predictable, so a critic that does not learn
 * (gradients not reaching the value head, optimizer/critic lr not applied, values read at the wrong positions, returns
 * or explained variance computed from the wrong arrays) fails them:
 *  - prompt-only reward (score = parity of the prompt's first digit): V(s) = score at every response position, so the
 *    explained variance must climb from 0 (zero-initialised head) to > 0.8, and vf_loss must fall by > 5× (flat ≈ 0.5·Var(R) when the critic does not learn); for the
 *    separate critic (its own optimizer, criticLr) and the shared value head (policy trunk, policy lr).
 *  - first-response-token reward (score = code point of the completion's first character mod 2), policy nearly frozen:
 *    the value at response column 0 is the state "prompt only" (verl: values[:, -N-1:-1]), so it must be identical for
 *    all samples of a group and cannot explain the within-group variance, while columns ≥ 1 (first token already chosen)
 *    must be explained (> 0.8). Values shifted by one (state including the token being scored) break the first check.
 * vf_explained_var is recomputed here from the per-token traces (1 − Var(R − V)/Var(R), population variances over the valid
 * tokens, verl compute_data_metrics) and compared with the logged metric.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { initBackend } from '../../src/trainer/backend';
import { GPT } from '../../src/trainer/model/gpt';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { createTask } from '../../src/trainer/tasks';
import { runRl, withValueHead } from '../../src/trainer/rl/loop';
import { rlTaskFrom, type RlTask } from '../../src/trainer/rl/types';

before(async () => { await initBackend('wasm', {}); });

interface StepTrace { groups: number[][]; value: number[][]; ret: number[][] }

/** population variance */
function pvar(x: number[]): number {
  const m = x.reduce((a, b) => a + b, 0) / x.length;
  return x.reduce((a, b) => a + (b - m) ** 2, 0) / x.length;
}
/** 1 − Var(R − V)/Var(R) over the (value, return) pairs whose column passes `keep` */
function ev(tr: StepTrace, keep: (t: number) => boolean = () => true): number {
  const d: number[] = [], r: number[] = [];
  tr.value.forEach((row, i) => row.forEach((v, t) => { if (keep(t)) { d.push(tr.ret[i][t] - v); r.push(tr.ret[i][t]); } }));
  return 1 - pvar(d) / pvar(r);
}
const median = (x: number[]) => { const s = [...x].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const avg = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;

async function probe(critic: 'separate' | 'shared', reward: RlTask['reward'], rl: Record<string, unknown>) {
  const tok = new CharTokenizer();
  const task: RlTask = { ...rlTaskFrom(createTask('arithmetic', { difficulty: 1 })), reward };
  let policy = GPT.create({ vocabSize: tok.size, contextLength: 16, dModel: 32, nHeads: 2, nLayers: 1 }, 3);
  if (critic === 'shared') policy = withValueHead(policy, true);
  const ref = policy.clone(false);
  const criticModel = critic === 'separate' ? withValueHead(policy.clone(true), true) : undefined;
  const traces: StepTrace[] = [];
  const metrics: Record<string, number | null>[] = [];
  try {
    await runRl({ policy, ref, critic: criticModel, tokenizer: tok, task, seed: 3 }, 'ppo', {
      steps: 24, promptsPerStep: 8, groupSize: 4, maxNewTokens: 4, eval: { every: 0 }, critic, kl: { coef: 0 }, ...rl,
    }, {
      traceStep: () => true,
      rollout: (_s, { header, arrays }) => {
        traces.push({
          groups: header.groups.map((g) => g.samples),
          value: arrays.map((a) => Array.from(a.value)), ret: arrays.map((a) => Array.from(a.return)),
        });
      },
      step: (_s, m) => { metrics.push(m); },
    });
  } finally {
    for (const m of [policy, ref, criticModel]) m?.dispose();
  }
  // the logged metric is the explained variance of the traced (value, return) pairs
  traces.forEach((tr, i) => {
    const mine = ev(tr), logged = metrics[i]['vf_explained_var'] as number;
    if (Number.isFinite(mine)) assert.ok(Math.abs(mine - logged) < 1e-6, `step ${i + 1}: vf_explained_var ${logged} vs recomputed ${mine}`);
  });
  return { traces, metrics, evs: metrics.map((m) => m['vf_explained_var'] as number), vf: metrics.map((m) => m['vf_loss'] as number) };
}

/** score = parity of the prompt's first digit (the arithmetic prompts look like "7+5=") */
const promptReward: RlTask['reward'] = (item) => {
  const s = Number(/\d/.exec(item.prompt)?.[0] ?? 0) % 2;
  return { score: s, parts: {}, correct: s > 0 };
};

for (const critic of ['separate', 'shared'] as const) {
  test(`ppo ${critic} critic learns a value that depends only on the prompt: explained variance 0 → > 0.8, vf_loss falls`, async () => {
    // shared: the value head trains with the policy's lr (vfCoef 0.5); separate: its own AdamW at criticLr
    const r = await probe(critic, promptReward, critic === 'shared' ? { lr: 3e-3 } : { lr: 1e-3, criticLr: 3e-3 });
    const ctx = `ev ${r.evs.map((x) => x.toFixed(2)).join(' ')}; vf_loss ${r.vf.map((x) => x.toFixed(3)).join(' ')}`;
    assert.ok(Math.abs(r.evs[0]) < 1e-6, `step 1 values are all 0 (zero-initialised head), so ev = 0: ${ctx}`);
    assert.ok(median(r.evs.slice(-8)) > 0.8, `median ev of the last 8 steps > 0.8: ${ctx}`);
    assert.ok(avg(r.vf.slice(-5)) < 0.2 * avg(r.vf.slice(0, 3)), `vf_loss falls > 5x: ${ctx}`);
  });
}

test('ppo critic values sit at the state before each response token (column 0 = prompt only) and learn the response', async () => {
  const firstTokenReward: RlTask['reward'] = (_item, completion) => {
    const s = (completion.codePointAt(0) ?? 0) % 2;
    return { score: s, parts: {}, correct: s > 0 };
  };
  const r = await probe('separate', firstTokenReward, { lr: 1e-5, criticLr: 3e-3 });
  // column 0: identical within every group (same prompt, same padding) at every step
  for (const [i, tr] of r.traces.entries()) {
    for (const g of tr.groups) {
      const v0 = g.map((s) => tr.value[s][0]);
      assert.ok(Math.max(...v0) - Math.min(...v0) < 1e-5, `step ${i + 1}: values at column 0 differ within a group: ${v0.join(', ')}`);
    }
  }
  const late = r.traces.slice(-8);
  const evLater = late.map((tr) => ev(tr, (t) => t >= 1));
  const evFirst = late.map((tr) => ev(tr, (t) => t === 0));
  const ctx = `ev(t≥1) ${evLater.map((x) => x.toFixed(2)).join(' ')}; ev(t=0) ${evFirst.map((x) => x.toFixed(2)).join(' ')}`;
  assert.ok(median(evLater) > 0.8, `columns ≥ 1 (first token chosen) are predictable: ${ctx}`);
  assert.ok(median(evFirst) < 0.3, `column 0 (prompt only) cannot predict the first token's parity: ${ctx}`);
});
