/**
 * ARPO's rollout (src/trainer/rl/arpo.ts) and its wiring into the RL step, with a tiny random GPT on calc-tool (cpu
 * backend): M trajectories per prompt, N roots; branches copy their parent's tokens up to the branch point and start
 * right after a tool result; the recorded P_t exceeds τ on every branch; α 0 / β 0 never branches (the budget is
 * filled with fresh trajectories), α 1 / β 0 branches at every decision until the budget is spent; through runRl the
 * per-token advantages are the GRPO advantages (soft) or the mean over the trajectories sharing the token (hard),
 * recomputed here from the written rewards and trees with algorithms/arpo.ts (whose math algo-arpo.test.ts checks
 * against the Python reference); float32 tensors on the step side: tolerance 1e-5.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { initBackend } from '../../src/trainer/backend';
import { GPT } from '../../src/trainer/model/gpt';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { Rng } from '../../src/trainer/rng';
import { CalcEnvironment } from '../../src/trainer/envs';
import { arpoRollout } from '../../src/trainer/rl/arpo';
import { resolveRlConfig } from '../../src/trainer/rl/config';
import { runRl } from '../../src/trainer/rl/loop';
import { rlTaskFrom } from '../../src/trainer/rl/types';
import { createTask } from '../../src/trainer/tasks';
import { attributeAdvantages, grpoTrajectoryAdvantages, type TreeLink } from '../../src/trainer/algorithms/arpo';

before(async () => { await initBackend('cpu'); });
const tok = new CharTokenizer();
const o = { maxTurns: 3, maxTokens: 24, contextLength: 40 };

function roll(arpo: Record<string, unknown>, seed = 1) {
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 40, dModel: 16, nHeads: 2, nLayers: 1 }, seed);
  const cfg = resolveRlConfig('arpo', { promptsPerStep: 12, groupSize: 6, maxNewTokens: 8, arpo });
  const ro = arpoRollout(policy, new CalcEnvironment(), tok, cfg, new Rng(seed), 1, o);
  policy.dispose();
  return ro;
}

test('M trajectories per prompt; branches share their parent\'s prefix and start after a tool result; P_t > τ on every branch', () => {
  for (const branchAt of ['next_call', 'same_turn']) {
    const ro = roll({ initialRollouts: 2, alpha: 1, beta: 0, tau: 0.5, branchAt });
    assert.equal(ro.groups.length, 12);
    for (const g of ro.groups) assert.equal(g.samples.length, 6, 'M = groupSize trajectories per prompt');
    const branches = ro.samples.filter((s) => s.tree?.parent !== null);
    assert.ok(branches.length >= 3, `${branchAt}: only ${branches.length} branches`);
    assert.equal(ro.extraMetrics!['arpo/branches'], branches.length);
    assert.equal(ro.extraMetrics!['arpo/branch_rate'], 1, 'α = 1 > τ: every decision branches');
    for (const s of ro.samples) {
      const t = s.tree!;
      assert.ok(t, 'every ARPO sample carries its tree');
      if (t.parent === null) { assert.equal(t.branchAt, 0); continue; }
      const p = ro.samples[t.parent];
      assert.equal(p.group, s.group); assert.equal(p.tree!.id, t.id);
      assert.deepEqual(s.tokens.slice(0, t.branchAt), p.tokens.slice(0, t.branchAt), 'the copied prefix');
      assert.deepEqual(s.lossMask!.slice(0, t.branchAt), p.lossMask!.slice(0, t.branchAt));
      assert.ok(t.branchTurn >= 1);
      // the branch point is the end of a tool result of the parent, and the branch's turns before it are the parent's
      const prev = p.turns![t.branchTurn - 1];
      assert.equal(prev.resultEnd, t.branchAt);
      assert.deepEqual(s.turns!.slice(0, t.branchTurn).map((x) => x.text), p.turns!.slice(0, t.branchTurn).map((x) => x.text));
      assert.match(String(t.node), new RegExp(`^${t.id.replace(/[/]/g, '\\/')}/${t.branchTurn}\\.\\d+$`));
      for (const k of ['entropy', 'entropyInitial', 'entropyDelta', 'branchProb', 'threshold']) assert.ok(Number.isFinite(t[k] as number), `${k}`);
      assert.ok((t.branchProb as number) > (t.threshold as number));
      assert.ok(Math.abs((t.entropyDelta as number) - ((t.entropy as number) - (t.entropyInitial as number))) < 1e-12);
    }
  }
});

test('α 0, β 0 never branches: N roots, then fresh trajectories fill the budget', () => {
  const ro = roll({ initialRollouts: 2, alpha: 0, beta: 0, tau: 0.5 });
  assert.ok(ro.samples.every((s) => s.tree && s.tree.parent === null));
  for (const g of ro.groups) assert.equal(g.samples.length, 6);
  assert.equal(ro.extraMetrics!['arpo/branches'], 0);
  assert.equal(ro.extraMetrics!['arpo/fill_ups'], 12 * 4);
  assert.equal(ro.extraMetrics!['arpo/budget_used'], 0);
  assert.equal(new Set(ro.samples.map((s) => s.tree!.id)).size, ro.samples.length, 'every trajectory its own tree');
});

test('arpo through runRl: soft and hard per-token advantages recomputed from the written rewards and trees; params and metrics', async () => {
  const task = rlTaskFrom(createTask('calc-tool'));
  for (const attribution of ['soft', 'hard'] as const) {
    const policy = GPT.create({ vocabSize: tok.size, contextLength: 40, dModel: 16, nHeads: 2, nLayers: 1 }, 5);
    const ref = policy.clone(false);
    const steps: { header: Record<string, unknown>; arrays: Record<string, number[]>[]; samples: Record<string, unknown>[] }[] = [];
    const res = await runRl({ policy, ref, tokenizer: tok, task, seed: 5 }, 'arpo', { steps: 2, promptsPerStep: 6, groupSize: 4, maxNewTokens: 8, eval: { every: 0 }, env: { maxTurns: 3, maxTokens: 24 }, arpo: { alpha: 1, beta: 0, attribution } }, {
      rollout: (_s, r) => steps.push({ header: r.header as unknown as Record<string, unknown>, arrays: r.arrays as Record<string, number[]>[], samples: r.samples as Record<string, unknown>[] }),
    });
    for (const m of res.metrics) {
      assert.ok(Number.isFinite(m['pg_loss'] as number));
      for (const k of ['arpo/branches', 'arpo/branch_rate', 'arpo/entropy_delta/mean', 'arpo/budget_used', 'arpo/decisions']) assert.ok(Number.isFinite(m[k] as number), k);
    }
    let shared = 0;
    for (const st of steps) {
      const params = st.header.params as Record<string, unknown>;
      assert.deepEqual([params.arpoBudget, params.arpoInitial, params.arpoAttribution, params.arpoAlpha], [4, 2, attribution, 1]);
      const S = st.samples as { group: string; reward: number; tree: { id: string; parent: number | null; branchAt: number } }[];
      const links: TreeLink[] = S.map((s, i) => ({ tree: s.tree.id, parent: s.tree.parent, branchAt: s.tree.branchAt, length: st.arrays[i].mask.length }));
      const A = grpoTrajectoryAdvantages(S.map((s) => s.reward), S.map((s) => s.group), 1e-6);
      const want = attributeAdvantages(A, links, attribution);
      S.forEach((s, b) => {
        if (s.tree.parent !== null && s.tree.branchAt > 0) shared++;
        st.arrays[b].advantage.forEach((v, j) => assert.ok(Math.abs(v - want[b][j] * st.arrays[b].mask[j]) < 1e-5, `${attribution} sample ${b} token ${j}: ${v} vs ${want[b][j]}`));
      });
    }
    assert.ok(shared > 0, 'some branches shared a prefix');
    policy.dispose(); ref.dispose();
  }
});

test('config errors name the field; arpo on a single-turn task says what it needs', async () => {
  assert.throws(() => resolveRlConfig('arpo', { groupSize: 4, arpo: { initialRollouts: 5 } }), /rl\.arpo\.initialRollouts: N must be ≤ the budget M .* got N 5 > M 4/);
  assert.throws(() => resolveRlConfig('arpo', { arpo: { branchAt: 'x' } }), /rl\.arpo\.branchAt: must be one of "next_call", "same_turn"/);
  assert.throws(() => resolveRlConfig('arpo', { arpo: { attribution: 'mean' } }), /rl\.arpo\.attribution: must be one of "soft", "hard"/);
  assert.throws(() => resolveRlConfig('arpo', { arpo: { entropyTokens: 0 } }), /rl\.arpo\.entropyTokens/);
  assert.throws(() => resolveRlConfig('arpo', { advantage: 'rloo' }), /ARPO computes GRPO advantages/);
  const c = resolveRlConfig('arpo', {});
  assert.deepEqual([c.arpo.budget, c.arpo.initialRollouts, c.arpo.entropyTokens, c.arpo.alpha, c.arpo.beta, c.arpo.tau, c.arpo.branches, c.arpo.branchAt, c.arpo.attribution, c.advantage],
    [null, null, 20, null, 0.2, 0.5, 1, 'next_call', 'soft', 'grpo']);
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 40, dModel: 16, nHeads: 2, nLayers: 1 }, 1);
  const ref = policy.clone(false);
  await assert.rejects(runRl({ policy, ref, tokenizer: tok, task: rlTaskFrom(createTask('arithmetic')), seed: 1 }, 'arpo', { steps: 1, promptsPerStep: 2, groupSize: 2, maxNewTokens: 4, eval: { every: 0 } }), /"arpo" branches after tool results: it needs a task with an environment/);
  policy.dispose(); ref.dispose();
});
