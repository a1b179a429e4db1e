/**
 * Tree-GRPO's tree rollout (src/trainer/rl/treeRollout.ts) and its run through the RL loop, with a tiny random GPT on
 * the cpu backend:
 *   - every tree has 1 + L·N leaves (or k with leavesPerTree), each branch repeats its parent's tokens [0, branchAt)
 *     exactly (policy and tool tokens, log-probs, loss mask) and branchAt is an agent-step boundary (right after a
 *     tool result, or 0 = the root); node ids are "<tree>/<depth>.<k>"; the tree/* metrics add up;
 *   - through runRl: the stored tree.advIntra / advInter equal treeGrpoAdvantages on the stored rewards, the sample
 *     advantage is their sum, every policy token carries it and every tool token 0; numTensors is stable across steps;
 *   - clear errors for a task without an environment and for leavesPerTree > 1 + L·N.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { initBackend } from '../../src/trainer/backend';
import { GPT } from '../../src/trainer/model/gpt';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { Rng } from '../../src/trainer/rng';
import { CalcEnvironment } from '../../src/trainer/envs';
import { resolveRlConfig } from '../../src/trainer/rl/config';
import { treeRollout } from '../../src/trainer/rl/treeRollout';
import { treeGrpoAdvantages } from '../../src/trainer/algorithms/treeGrpo';
import { runRl } from '../../src/trainer/rl/loop';
import { rlTaskFrom } from '../../src/trainer/rl/types';
import { createTask } from '../../src/trainer/tasks';
import { warmLengthConstants } from '../fixtures/warmModel';

before(async () => { await initBackend('cpu'); });
const tok = new CharTokenizer();

function roll(treeGrpo: Record<string, unknown>, seed = 2) {
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 48, dModel: 16, nHeads: 2, nLayers: 1 }, seed);
  const cfg = resolveRlConfig('tree_grpo', { promptsPerStep: 3, maxNewTokens: 8, treeGrpo });
  const ro = treeRollout(policy, new CalcEnvironment(), tok, cfg, new Rng(seed), 1, { maxTurns: 4, maxTokens: 30, contextLength: 48 });
  policy.dispose();
  return { cfg, ro };
}

test('trees: 1 + L·N leaves each, branches share their parent\'s tokens up to an agent-step boundary, node ids, metrics', () => {
  const { ro } = roll({ trees: 3, expandNodes: 2, iterations: 2 });
  const S = ro.samples;
  assert.equal(S.length, 3 * 3 * (1 + 2 * 2));
  const byTree = new Map<string, number[]>();
  S.forEach((s, i) => { assert.ok(s.tree); byTree.set(s.tree.id, [...(byTree.get(s.tree.id) ?? []), i]); });
  assert.equal(byTree.size, 9);
  for (const [id, members] of byTree) {
    assert.equal(members.length, 5, `tree ${id}`);
    assert.ok(members.every((i) => S[i].group === S[members[0]].group), 'a tree lies inside one prompt group');
    assert.equal(members.filter((i) => S[i].tree!.parent === null).length, 1, 'one root chain per tree');
  }
  let branchedMidway = 0;
  S.forEach((s, i) => {
    const t = s.tree!;
    assert.match(t.node!, new RegExp(`^${t.id.replace(/\//g, '\\/')}\\/\\d+\\.\\d+$`));
    if (t.parent === null) { assert.equal(t.branchAt, 0); assert.equal(t.node, `${t.id}/0.0`); return; }
    const p = S[t.parent];
    assert.equal(p.tree!.id, t.id, 'the parent is in the same tree');
    assert.equal(Number(t.node!.split('/').pop()!.split('.')[0]), t.branchTurn, 'node depth = branch turn');
    // the shared prefix, byte for byte (tokens, sampling log-probs, loss mask, turns before the branch)
    assert.deepEqual(s.tokens.slice(0, t.branchAt), p.tokens.slice(0, t.branchAt));
    assert.deepEqual(s.sampleLogprobs.slice(0, t.branchAt), p.sampleLogprobs.slice(0, t.branchAt));
    assert.deepEqual(s.lossMask!.slice(0, t.branchAt), p.lossMask!.slice(0, t.branchAt));
    assert.deepEqual(s.turns!.slice(0, t.branchTurn).map((x) => x.text), p.turns!.slice(0, t.branchTurn).map((x) => x.text));
    if (t.branchTurn > 0) {
      branchedMidway++;
      // an agent-step boundary: right after the tool result of turn branchTurn − 1 (a loss-mask 0 token before it)
      assert.equal(t.branchAt, p.turns![t.branchTurn - 1].resultEnd);
      assert.ok(p.turns![t.branchTurn - 1].result !== undefined);
      assert.equal(s.lossMask![t.branchAt - 1], 0);
    }
  });
  assert.ok(branchedMidway > 0, 'some expansions start after a tool result');
  const m = ro.extraMetrics!;
  assert.equal(m['tree/trees'], 9); assert.equal(m['tree/leaves'], 45); assert.equal(m['tree/expansions'], 36);
  const shared = S.reduce((a, s) => a + s.tree!.branchAt, 0), total = S.reduce((a, s) => a + s.tokens.length, 0);
  assert.ok(Math.abs(m['tree/shared_token_frac'] - shared / total) < 1e-12 && shared > 0);
  // executed calls: each trajectory's own calls (after its branch point), never the shared ones
  const own = S.reduce((a, s) => a + s.turns!.slice(s.tree!.branchTurn).filter((x) => x.result !== undefined).length, 0);
  assert.equal(m['tree/tool_calls_executed'], own);
  assert.ok(own < S.reduce((a, s) => a + s.turns!.filter((x) => x.result !== undefined).length, 0), 'shared prefixes save tool calls');
  // generated policy tokens = each trajectory's own policy tokens
  assert.equal(ro.generatedTokens, S.reduce((a, s) => a + s.lossMask!.slice(s.tree!.branchAt).filter((x) => x === 1).length, 0));
});

test('leavesPerTree k keeps k leaves per tree; a kept leaf of a pruned parent hangs from a kept ancestor; L = 0 is M chains', () => {
  const { ro } = roll({ trees: 2, expandNodes: 3, iterations: 2, leavesPerTree: 3 });
  assert.equal(ro.samples.length, 3 * 2 * 3);
  ro.samples.forEach((s) => {
    const p = s.tree!.parent;
    if (p === null) return;
    assert.equal(ro.samples[p].tree!.id, s.tree!.id);
    assert.deepEqual(s.tokens.slice(0, s.tree!.branchAt), ro.samples[p].tokens.slice(0, s.tree!.branchAt));
  });
  const chains = roll({ trees: 4, expandNodes: 2, iterations: 0 }).ro;
  assert.equal(chains.samples.length, 12);
  assert.ok(chains.samples.every((s) => s.tree!.parent === null));
  assert.throws(() => resolveRlConfig('tree_grpo', { treeGrpo: { iterations: 1, expandNodes: 2, leavesPerTree: 4 } }), /rl\.treeGrpo\.leavesPerTree: a tree has 1 \+ iterations·expandNodes = 3 leaves/);
  assert.throws(() => resolveRlConfig('grpo', { advantage: 'tree_grpo' }), /rl\.advantage: "tree_grpo" needs the tree rollouts of algorithm "tree_grpo"/);
});


test('tree_grpo through the RL loop: stored advIntra / advInter = the façade, token advantage = their sum on policy tokens, 0 on tool tokens; numTensors stable', async () => {
  const task = rlTaskFrom(createTask('calc-tool'));
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 40, dModel: 16, nHeads: 2, nLayers: 1 }, 3);
  const ref = policy.clone(false);
  warmLengthConstants(policy); warmLengthConstants(ref);
  const steps: { arrays: Record<string, number[]>[]; samples: Record<string, unknown>[]; params: Record<string, unknown> }[] = [];
  const res = await runRl({ policy, ref, tokenizer: tok, task, seed: 3 }, 'tree_grpo', { steps: 4, promptsPerStep: 2, maxNewTokens: 8, eval: { every: 0 }, env: { maxTurns: 3, maxTokens: 24 }, treeGrpo: { trees: 2, expandNodes: 2, iterations: 1 } }, {
    rollout: (_s, r) => steps.push({ arrays: r.arrays as Record<string, number[]>[], samples: r.samples as Record<string, unknown>[], params: r.header.params as Record<string, unknown> }),
  });
  const counts = res.metrics.map((m) => m['num_tensors']);
  assert.deepEqual(counts.slice(1), counts.slice(1).map(() => counts[1]), `numTensors per step: ${counts.join(', ')}`);
  for (const m of res.metrics) { assert.ok(Number.isFinite(m['pg_loss'] as number)); assert.equal(m['tree/leaves'], 2 * 2 * 3); assert.ok(Number.isFinite(m['tree/adv_intra_abs/mean'] as number)); }
  let nonzero = 0;
  for (const st of steps) {
    assert.equal(st.params.algorithm, 'tree_grpo'); assert.equal(st.params.treeTrees, 2); assert.equal(st.params.treeLeavesPerTree, 3);
    const S = st.samples as { reward: number; group: string; advantage: number; tree: { id: string; advIntra: number; advInter: number } }[];
    const want = treeGrpoAdvantages({ rewards: S.map((s) => s.reward), prompt: S.map((s) => s.group), tree: S.map((s) => s.tree.id), eps: st.params.eps as number });
    S.forEach((s, b) => {
      assert.ok(Math.abs(s.tree.advIntra - want.intra[b]) < 1e-9 && Math.abs(s.tree.advInter - want.inter[b]) < 1e-9);
      assert.ok(Math.abs(s.advantage - want.advantages[b]) < 1e-5, `sample advantage ${s.advantage} vs ${want.advantages[b]}`);
      const a = st.arrays[b];
      a.loss_mask.forEach((m, j) => { if (m) assert.ok(Math.abs(a.advantage[j] - want.advantages[b]) < 1e-5); else assert.equal(a.advantage[j], 0); });
      if (Math.abs(want.advantages[b]) > 1e-3) nonzero++;
    });
  }
  assert.ok(nonzero > 0, 'some leaves get a non-zero advantage');
  await assert.rejects(runRl({ policy, ref, tokenizer: tok, task: rlTaskFrom(createTask('arithmetic')), seed: 1 }, 'tree_grpo', { steps: 1, promptsPerStep: 2, maxNewTokens: 4, eval: { every: 0 } }), /"tree_grpo" grows trees of agent steps .* needs a task with an environment/);
  policy.dispose(); ref.dispose();
});

test('preset tree-grpo-calc: grpo-calc\'s environment, model, warm start, steps and eval; only the algorithm and its tree differ', async () => {
  const { PRESET_TABLE, calcToolPreset } = await import('../../src/shared/presets');
  const e = PRESET_TABLE.find((p) => p.id === 'tree-grpo-calc');
  assert.ok(e && e.startRun && typeof e.seconds === 'number', 'offered in Start Run with a time estimate');
  const tree = e.make() as Record<string, unknown>, grpo = calcToolPreset('grpo');
  for (const k of ['seed', 'task', 'model', 'train', 'sampling', 'eval', 'checkpoint', 'rollouts']) assert.deepEqual(tree[k], grpo[k], k);
  const { treeGrpo, ...rl } = tree.rl as Record<string, unknown>;
  assert.deepEqual(rl, grpo.rl);
  assert.deepEqual(treeGrpo, { trees: 4, expandNodes: 2, iterations: 1, leavesPerTree: null });
  assert.equal(tree.algorithm, 'tree_grpo');
  // the rl defaults of tree_grpo are the preset's tree (so `rl-lens compare --preset grpo-calc` runs the same trees)
  assert.deepEqual(resolveRlConfig('tree_grpo', undefined).treeGrpo, treeGrpo);
});
