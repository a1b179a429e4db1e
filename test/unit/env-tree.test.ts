/**
 * Rollout-tree primitives of the multi-turn rollout (src/trainer/rl/multiturn.ts), used by Tree-GRPO and ARPO:
 * a branch made with forkEpisode shares its parent's tokens (policy and environment) up to the branch point and
 * nothing after; runEpisodes calls afterTurn once per generated turn with that turn's sampling entropies and grows
 * the pool with the branches it returns; episodesToResult writes `tree.parent` as the parent's sample index;
 * retainWholeGroups renumbers `tree.parent` with the samples. Tiny random GPT on the cpu backend.
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { initBackend } from '../../src/trainer/backend';
import { GPT } from '../../src/trainer/model/gpt';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { Rng } from '../../src/trainer/rng';
import { CalcEnvironment } from '../../src/trainer/envs';
import { episodesToResult, forkEpisode, newEpisodes, runEpisodes, stepItems, type Episode } from '../../src/trainer/rl/multiturn';
import { resolveRlConfig } from '../../src/trainer/rl/config';
import { retainWholeGroups } from '../../src/shared/rolloutStep';

before(async () => { await initBackend('cpu'); });
const tok = new CharTokenizer();
const env = new CalcEnvironment();
const o = { maxTurns: 4, maxTokens: 30, contextLength: 48 };

function setup(seed: number) {
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 48, dModel: 16, nHeads: 2, nLayers: 1 }, seed);
  const cfg = resolveRlConfig('grpo', { promptsPerStep: 4, groupSize: 6, maxNewTokens: 8 });
  const rng = new Rng(seed);
  const its = stepItems(env, tok, cfg, rng, 3);
  const eps = its.flatMap((g) => newEpisodes(g.item, g.id, g.promptIds, cfg.groupSize));
  return { policy, cfg, rng, its, eps };
}

test('afterTurn sees every turn once with its entropies; branches share exactly the prefix before the branch point', () => {
  const { policy, cfg, rng, its, eps } = setup(7);
  const seen: Array<{ e: Episode; turn: number; n: number }> = [];
  const branched = new Set<Episode>();
  const { episodes } = runEpisodes(policy, env, tok, cfg, rng, eps, o, {
    afterTurn: ({ episode, turn, entropies }) => {
      const t = episode.turns[turn];
      assert.equal(entropies.length, t.end - t.start, 'one entropy per policy token of the turn');
      assert.ok(entropies.every((h) => h >= 0 && Number.isFinite(h)));
      seen.push({ e: episode, turn, n: entropies.length });
      // branch every root episode once, right after its first tool result (turn 1 follows it)
      if (turn === 1 && !episode.tree && !branched.has(episode)) { branched.add(episode); return [forkEpisode(episode, 1), forkEpisode(episode, 1)]; }
    },
  });
  assert.ok(branched.size >= 2, `the random policy made a tool call then another turn in ${branched.size} episodes`);
  assert.equal(episodes.length, eps.length + 2 * branched.size);
  // every turn of every episode was reported exactly once (a branch reports only its own new turns)
  for (const e of episodes) {
    const own = seen.filter((s) => s.e === e).map((s) => s.turn);
    const first = e.tree && e.tree.parent ? e.tree.branchTurn : 0;
    assert.deepEqual(own, e.turns.map((_, k) => k).slice(first));
  }
  const ro = episodesToResult(episodes, its, env, tok, 0, Date.now());
  assert.equal(ro.samples.length, episodes.length);
  let checked = 0;
  ro.samples.forEach((s, i) => {
    if (!s.tree || s.tree.parent === null) return;
    const p = ro.samples[s.tree.parent];
    assert.equal(p.group, s.group, 'a branch stays in its group');
    assert.equal(p.tree!.parent, null, 'branched from the root');
    assert.equal(p.tree!.id, s.tree.id);
    const at = s.tree.branchAt;
    assert.equal(at, p.turns![0].resultEnd, 'branch point = end of the parent\'s first tool result');
    assert.deepEqual(s.tokens.slice(0, at), p.tokens.slice(0, at), `sample ${i}: shared prefix`);
    assert.deepEqual(s.lossMask!.slice(0, at), p.lossMask!.slice(0, at));
    assert.deepEqual(s.turns![0], p.turns![0], 'the shared turn is copied');
    assert.equal(s.turns![1].start, at, 'the branch\'s own turn starts at the branch point');
    // the branch's own tokens are masked as policy / environment tokens of its own turns
    for (const t of s.turns!.slice(1)) for (let j = t.start; j < t.end; j++) assert.equal(s.lossMask![j], 1);
    checked++;
  });
  assert.equal(checked, 2 * branched.size);
  // groups list each of their samples once, in sample order
  assert.deepEqual(ro.groups.flatMap((g) => g.samples), ro.samples.map((_, i) => i));
});

test('forkEpisode refuses a branch point that is not an agent-step boundary', () => {
  const { policy, cfg, rng, eps } = setup(11);
  const { episodes } = runEpisodes(policy, env, tok, cfg, rng, eps, o);
  const noCall = episodes.find((e) => e.turns.length >= 1 && e.turns[0].result === undefined)!;
  assert.ok(noCall, 'some episode ended its first turn without a call');
  assert.throws(() => forkEpisode(noCall, 1), /made no tool call/);
  assert.throws(() => forkEpisode(noCall, noCall.turns.length + 1), /outside 0\.\./);
  const root = forkEpisode(noCall, 0, 'T');
  assert.equal(root.tokens.length, 0);
  assert.equal(noCall.tree!.id, 'T');
  assert.equal(root.tree!.branchAt, 0);
});

test('retainWholeGroups renumbers tree parents with the samples', () => {
  const mk = (group: string, tree?: unknown) => ({ group, prompt: 'p', completion: 'c', tokens: ['c'], reward: 0, length: 1, ...(tree ? { tree } : {}) });
  const input = {
    header: { step: 1, arrays: [], groups: [{ id: 'a', prompt: 'p', samples: [0, 1], rewards: [0, 0], mean: 0, std: 0, filtered: false }, { id: 'b', prompt: 'p', samples: [2, 3, 4], rewards: [0, 0, 0], mean: 0, std: 0, filtered: false }] },
    samples: [mk('a'), mk('a'), mk('b', { id: 'b/t0', parent: null, branchAt: 0, branchTurn: 0 }), mk('b', { id: 'b/t0', parent: 2, branchAt: 5, branchTurn: 1 }), mk('b', { id: 'b/t0', parent: 3, branchAt: 9, branchTurn: 2 })],
    arrays: [{}, {}, {}, {}, {}],
  };
  // groups in header order: 'a' is kept whole (2 samples), 'b' (3 more) exceeds 4 and is dropped ...
  const cut = retainWholeGroups(input as never, 4);
  assert.equal(cut.samples.length, 2);
  // ... so put 'b' first
  const swapped = { ...input, header: { ...input.header, groups: [input.header.groups[1], input.header.groups[0]] } };
  const kept = retainWholeGroups(swapped as never, 4);
  assert.deepEqual(kept.samples.map((s) => (s.tree as { parent: number | null } | undefined)?.parent), [null, 0, 1]);
  assert.deepEqual(kept.header.groups![0].samples, [0, 1, 2]);
});
