// Multi-turn episodes and rollout trees in the group view's data (src/webview/data/turns.ts, tree.ts) and the
// drill-down for GiGPO and Tree-GRPO / ARPO (src/webview/data/drilldown.ts). Expected numbers computed independently in
// numpy (script below) or by hand; tolerances stated per assertion.
//
//   import numpy as np; eps = 1e-6
//   R = np.array([1.1, -0.1, 0.1]); AE = (R - R.mean()) / (R.std(ddof=1) + eps)
//   P = np.array([0.99, -0.1, 0.09]); AS_P = (P - P.mean()) / (P.std(ddof=1) + eps)     # anchor "P": R_0 of each episode (γ 0.9)
//   Q = np.array([1.1, 0.1]); AS_Q = (Q - Q.mean()) / (Q.std(ddof=1) + eps)               # anchor "P␁3"
//   ta = [1, 0, 1]; tb = [0, .5]; all = [1, 0, 1, 0, .5]   # Tree-GRPO intra (per tree) and inter (all leaves), same formula
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { anchorText, sampleTurns, turnCounts, turnOfToken, turnSpans, hasTurns, stepGroupMembers } from '../../src/webview/data/turns';
import { buildTrees, treeNodes, nodeOfToken, sharingTrajectories, sampleTree, hasTrees, type TreeNode } from '../../src/webview/data/tree';
import { drillDown, discountedReturns, gigpoStepRewards, normalised } from '../../src/webview/data/drilldown';
import { packRolloutStep } from '../../src/shared/rolloutStep';
import type { RolloutSampleInput } from '../../src/shared/runFormat';

const near = (a: number, b: number, tol: number, msg = '') => assert.ok(Math.abs(a - b) <= tol, `${msg} expected ${b}, got ${a} (tol ${tol})`);

// numpy values (script above)
const AE = [1.1406450900126788, -0.7258650572807956, -0.4147800327318833];
const AS_P = [1.1392259683309314, -0.7327684620420061, -0.40645750628892524];
const AS_Q = [0.7071057811879616, -0.7071057811879619];

type Turn = Record<string, unknown>;
const turn = (text: string, anchor: string, start: number, end: number, extra: Turn = {}): Turn => ({ text, anchor, start, end, reward: 0, ...extra });

/** A GiGPO step: one episode group of three episodes (γ 0.9, ω 1), stored numbers from numpy (or tampered). */
function gigpoStep(tamper = false) {
  const turnsOf: Turn[][] = [
    [turn('?1+2=', 'P', 0, 5, { call: '1+2', result: '3', resultEnd: 7, stepGroup: 'g#0', stepReturn: 0.99, stepAdvantage: AS_P[0], episodeAdvantage: AE[0], advantage: AE[0] + AS_P[0] }),
      turn('6', 'P\u00013', 7, 9, { stepGroup: 'g#1', stepReturn: 1.1, stepAdvantage: AS_Q[0], episodeAdvantage: AE[0], advantage: AE[0] + AS_Q[0] })],
    [turn('1+2=', 'P', 0, 4, { call: undefined, result: 'err', error: "a call must start with '?'", reward: -0.1, resultEnd: 8, stepGroup: 'g#0', stepReturn: -0.1, stepAdvantage: AS_P[1], episodeAdvantage: AE[1], advantage: AE[1] + AS_P[1] }),
      turn('5', 'P\u0001err', 8, 10, { stepGroup: 'g#2', stepReturn: 0, stepAdvantage: 0, episodeAdvantage: AE[1], advantage: AE[1] })],
    [turn('?1+2=', 'P', 0, 5, { call: '1+2', result: '3', resultEnd: 7, stepGroup: 'g#0', stepReturn: 0.09, stepAdvantage: tamper ? 0.5 : AS_P[2], episodeAdvantage: AE[2], advantage: AE[2] + AS_P[2] }),
      turn('7', 'P\u00013', 7, 9, { stepGroup: 'g#1', stepReturn: 0.1, stepAdvantage: AS_Q[1], episodeAdvantage: AE[2], advantage: AE[2] + AS_Q[1] })],
  ];
  const rewards = [1.1, -0.1, 0.1];
  const samples: RolloutSampleInput[] = turnsOf.map((turns, i) => {
    const L = (turns.at(-1)!.end as number) + 1;
    return { group: 'g', prompt: '1+2+3:', completion: 'x'.repeat(L), tokens: Array.from({ length: L }, () => 'x'), reward: rewards[i], advantage: AE[i], length: L, turns };
  });
  const arrays = turnsOf.map((turns, i) => {
    const L = samples[i].length;
    const adv = new Array<number>(L).fill(0), mask = new Array<number>(L).fill(0);
    for (const t of turns) for (let j = t.start as number; j < (t.end as number); j++) { adv[j] = t.advantage as number; mask[j] = 1; }
    mask[L - 1] = 1; adv[L - 1] = turns.at(-1)!.advantage as number; // EOS: the last turn's
    return { advantage: adv, mask };
  });
  return packRolloutStep({
    header: { step: 1, algorithm: 'gigpo', arrays: ['advantage', 'mask'], groups: [{ id: 'g', prompt: '1+2+3:', samples: [0, 1, 2], rewards, mean: 0.3667, std: 0.6429 }],
      params: { advantage: 'gigpo', eps: 1e-6, gigpoOmega: 1, gigpoGamma: 0.9, gigpoMode: 'mean_std_norm' } },
    samples, arrays,
  });
}

test('turns: parsed defensively, spans, the turn of a token, counts, anchors', () => {
  const s = { length: 10, turns: [turn('?1+2=', 'P', 0, 5, { call: '1+2', result: '3', resultEnd: 7, reward: -0.1 }), 'junk', turn('6', 'P\u00013', 7, 99, { stepReturn: NaN }), null] };
  const t = sampleTurns(s);
  assert.equal(t.length, 2, 'non-objects skipped');
  assert.deepEqual(t.map((x) => x.index), [0, 2], 'indices are positions in the stored array');
  assert.equal(t[1].end, 10, 'clamped to the length');
  assert.equal(t[1].stepReturn, undefined, 'NaN is not a number here');
  assert.deepEqual(turnSpans(t[0]), { policy: [0, 5], environment: [5, 7] });
  assert.deepEqual(turnSpans(t[1]), { policy: [7, 10], environment: [10, 10] });
  assert.deepEqual(turnOfToken(t, 4), { turn: 0, part: 'policy' });
  assert.deepEqual(turnOfToken(t, 5), { turn: 0, part: 'environment' });
  assert.deepEqual(turnOfToken(t, 6), { turn: 0, part: 'environment' });
  assert.deepEqual(turnOfToken(t, 7), { turn: 2, part: 'policy' });
  assert.equal(turnOfToken(t, 10), undefined);
  assert.deepEqual(turnCounts(t), { turns: 2, calls: 1, errors: 0, turnReward: -0.1 });
  assert.equal(anchorText('37+48+19:\u000185\u0001104'), '37+48+19: → 85 → 104');
  assert.deepEqual(sampleTurns({ length: 3 }), [], 'single-turn sample');
  assert.deepEqual(sampleTurns({ length: 3, turns: 'x' }), []);
  assert.equal(hasTurns({ turns: [] }), false);
  assert.equal(hasTurns(s), true);
  const st = gigpoStep();
  assert.deepEqual(stepGroupMembers(st.samples, 'g#0').map((m) => `${m.sample}.${m.turn.index}`), ['0.0', '1.0', '2.0']);
  assert.equal(turnCounts(sampleTurns(st.samples[1])).errors, 1, 'the err result counts as a bad call');
});

test('GiGPO drill-down: A = A^E + ω·A^S from the episode group and the anchor-state step group, checked against the stored numbers', () => {
  // Eq. 5 by hand: r = [0, 1.1], γ 0.9 → R = [0.99, 1.1]
  const r = gigpoStepRewards([0, 0], 1.1);
  assert.deepEqual(r, [0, 1.1]);
  discountedReturns(r, 0.9).forEach((x, k) => near(x, [0.99, 1.1][k], 1e-12));
  assert.deepEqual(gigpoStepRewards([-0.1, 0], -0.1), [-0.1, 0], 'the final reward is the return minus the turn rewards');
  near(normalised([1.1, -0.1, 0.1], 0, 'mean_std_norm', 1e-6, 'zero').value, AE[0], 1e-12);
  assert.equal(normalised([3], 0, 'mean_std_norm', 1e-6, 'self').value, 0, 'a step group of one: A^S = 0');
  near(normalised([3], 0, 'mean_std_norm', 1e-6, 'zero').value, 3 / (1 + 1e-6), 1e-12, 'an episode group of one: mean 0, std 1');

  const st = gigpoStep();
  // a policy token of sample 2, turn 0 (token 1): A^E(2) + A^S(anchor P, member 2)
  const d = drillDown(st, 2, 1);
  assert.equal(d.kind, 'gigpo');
  assert.match(d.title, /GiGPO credit for token 1 of sample 2 \(turn 0\)/);
  const line = (re: RegExp) => d.lines.find((l) => re.test(l.label))!.value as number;
  near(line(/^A\^E/), AE[2], 1e-9, 'A^E');
  near(line(/^A\^S/), AS_P[2], 1e-9, 'A^S');
  near(line(/^A = A\^E/), AE[2] + AS_P[2], 1e-9, 'A');
  near(line(/^step return/), 0.09, 1e-12, 'R_0 = 0 + 0.9·0.1');
  assert.equal(d.lines.find((l) => /anchor state/.test(l.label))!.value, 'P');
  const table = d.tables!.find((x) => x.id === 'step-group')!;
  assert.deepEqual(table.rows.map((x) => x[0]), ['#0', '#1', '#2'], 'the three first turns acted in state P');
  table.rows.forEach((x, k) => near(x[3] as number, AS_P[k], 1e-9, `A^S of member ${k}`));
  assert.deepEqual(table.self, [2]);
  assert.deepEqual(d.group!.map((g) => g.self), [false, false, true]);
  d.group!.forEach((g, k) => near(g.advantage, AE[k], 1e-9));
  // every check passes (stored as float32 in the .f32 for the token: 1e-3 relative)
  assert.ok(d.checks.length >= 6, d.checks.map((c) => c.label).join('; '));
  assert.deepEqual(d.checks.filter((c) => !c.ok), []);
  // turn 1 of sample 1: a step group of one (anchor P␁err): A^S = 0, A = A^E
  const d1 = drillDown(st, 1, 8);
  near(d1.lines.find((l) => /^A = A\^E/.test(l.label))!.value as number, AE[1], 1e-9);
  assert.match(String(d1.lines.find((l) => l.label === 'step group')!.note), /group of one/);
  assert.deepEqual(d1.checks.filter((c) => !c.ok), []);
  // an environment token (the tool result of sample 0's turn 0): no advantage
  const de = drillDown(st, 0, 5);
  assert.match(de.title, /environment/);
  assert.match(String(de.lines[0].value), /tool result "3"/);
  // a tampered stored A^S fails its check
  const bad = drillDown(gigpoStep(true), 2, 1);
  assert.deepEqual(bad.checks.filter((c) => !c.ok).map((c) => c.label), ['A^S = (R − mean) / (std + ε) over the step group']);
});

/**
 * A hand-made tree (token positions):
 *   sample 0 (root)       [0 ........................ 10)
 *   sample 1  parent 0 at 4   [4 ............ 9)
 *   sample 3  parent 1 at 6        [6 ...... 8)
 *   sample 2  parent 0 at 7              [7 ........... 12)
 *   sample 4  parent 0 at 4   [4 .. 5)
 *   sample 5  parent 1 at 2  (before 1 left 0: hangs under 0 at 2)
 * Shared prefixes: lcp(i, j) = the smallest branchAt on the path between them (by hand below).
 */
function treeSamples() {
  const mk = (length: number, parent: number | null, branchAt: number, extra: Record<string, unknown> = {}) => ({ group: 'g', length, reward: 0, tree: { id: 'g/t0', parent, branchAt, ...extra } });
  return [mk(10, null, 0), mk(9, 0, 4, { branchTurn: 1, entropy: 1.2, entropyDelta: 0.4, branchProb: 0.7 }), mk(12, 0, 7), mk(8, 1, 6), mk(5, 0, 4), mk(6, 1, 2)];
}

test('tree: shared prefixes once, branch points, leaves; the trajectories that share a token', () => {
  const S = treeSamples();
  const [t] = buildTrees(S);
  assert.equal(t.id, 'g/t0');
  assert.equal(t.leaves, 6); assert.equal(t.branches, 5);
  assert.deepEqual(t.problems, []);
  const show = (n: TreeNode): string => `${n.owner}[${n.from},${n.to})${n.leaf !== undefined ? '*' : ''}${n.children.length ? `{${n.children.map(show).join(' ')}}` : ''}`;
  // by hand: 0 and 5 part at 2; at 4 samples 1 and 4 leave 0; at 6 sample 3 leaves 1; at 7 sample 2 leaves 0
  assert.equal(show(t.root), '0[0,2){0[2,4){0[4,7){0[7,10)* 2[7,12)*} 1[4,6){1[6,9)* 3[6,8)*} 4[4,5)*} 5[2,6)*}');
  assert.equal(t.branchPoints, 4);
  const nodes = treeNodes(t);
  assert.equal(nodes.filter((n) => n.leaf !== undefined).length, 6, 'one leaf per trajectory');
  assert.deepEqual(nodes.find((n) => n.key === '1:4')!.branch!.info.branchProb, 0.7, 'the branch node carries its ARPO numbers');
  assert.deepEqual(nodes[0].samples, [0, 1, 2, 3, 4, 5], 'the first tokens are shared by all six');
  // sharing: token k of sample i is shared with j iff k < lcp(i, j)
  const lcp = [
    [10, 4, 7, 4, 4, 2], [4, 9, 4, 6, 4, 2], [7, 4, 12, 4, 4, 2], [4, 6, 4, 8, 4, 2], [4, 4, 4, 4, 5, 2], [2, 2, 2, 2, 2, 6],
  ];
  for (let i = 0; i < 6; i++) for (let k = 0; k < S[i].length; k++) {
    const want = [0, 1, 2, 3, 4, 5].filter((j) => k < Math.min(lcp[i][j], S[j].length));
    assert.deepEqual(sharingTrajectories(S, i, k), want, `sample ${i} token ${k}`);
  }
  assert.equal(nodeOfToken(t, 3, 7)!.key, '3:6');
  assert.equal(sampleTree({}), undefined);
  assert.equal(hasTrees([{}, { tree: { id: 'x' } }]), true);
  assert.equal(sampleTree({ tree: { id: 'x', parent: 'bad', branchAt: -3 } })!.parent, null);
});

test('tree: bad parents, second roots and cycles are repaired and reported, never lost', () => {
  const mk = (parent: number | null, branchAt: number) => ({ group: 'g', length: 6, reward: 0, tree: { id: 'T', parent, branchAt } });
  const S = [mk(null, 0), mk(9, 3), mk(null, 0), mk(4, 2), mk(3, 2), mk(0, 99)];
  const [t] = buildTrees(S);
  assert.equal(t.problems.length, 4, t.problems.join('\n'));
  assert.match(t.problems.join('\n'), /parent 9, not in this tree/);
  assert.match(t.problems.join('\n'), /second root/);
  assert.match(t.problems.join('\n'), /cycle/);
  assert.match(t.problems.join('\n'), /branches at token 99.*clamped/);
  assert.equal(treeNodes(t).filter((n) => n.leaf !== undefined).length, 6, 'every trajectory is a leaf of the drawing');
  // children at token 0 of the root: an empty shared prefix on top
  const [u] = buildTrees([{ group: 'g', length: 3, tree: { id: 'U', parent: null, branchAt: 0 } }, { group: 'g', length: 3, tree: { id: 'U', parent: 0, branchAt: 0 } }]);
  assert.deepEqual([u.root.from, u.root.to, u.root.children.length], [0, 0, 2]);
  assert.deepEqual(buildTrees([{ group: 'g', length: 3 }]), [], 'no tree field: no tree');
});

test('Tree-GRPO drill-down: intra-tree + inter-tree advantages from the leaves; ARPO: the group advantage and the sharing rows', () => {
  // numpy (script at the top): two trees of one prompt, leaves' rewards [1, 0, 1] and [0, .5]
  const intra = [0.5773492691913578, -1.1546985383827153, 0.5773492691913578, -0.7071047811922043, 0.7071047811922043];
  const inter = [0.999998000004, -0.999998000004, 0.999998000004, -0.999998000004, 0.0];
  const rewards = [1, 0, 1, 0, 0.5];
  const trees = [{ id: 'g/t0', parent: null, branchAt: 0 }, { id: 'g/t0', parent: 0, branchAt: 3, branchTurn: 1 }, { id: 'g/t0', parent: 0, branchAt: 5, branchTurn: 2 }, { id: 'g/t1', parent: null, branchAt: 0 }, { id: 'g/t1', parent: 3, branchAt: 3 }];
  const L = 8;
  const mask = [1, 1, 1, 0, 0, 1, 1, 1];
  const mkStep = (algorithm: string, withAdv: (k: number) => Record<string, number>, seqAdv: (k: number) => number, tokenAdv?: number[][], extra: Record<string, string> = {}) => packRolloutStep({
    header: { step: 1, algorithm, arrays: ['advantage', 'mask'], groups: [{ id: 'g', prompt: 'p', samples: [0, 1, 2, 3, 4], rewards, mean: 0.5, std: 0.5 }], params: { advantage: algorithm === 'arpo' ? 'grpo' : algorithm, eps: 1e-6, ...extra } },
    samples: trees.map((t, k) => ({ group: 'g', prompt: 'p', completion: 'x'.repeat(L), tokens: new Array(L).fill('x'), reward: rewards[k], advantage: seqAdv(k), length: L, tree: { ...t, ...withAdv(k) } })),
    arrays: trees.map((_, k) => ({ advantage: tokenAdv?.[k] ?? mask.map((m) => m * seqAdv(k)), mask })),
  });
  const st = mkStep('tree_grpo', (k) => ({ advIntra: intra[k], advInter: inter[k] }), (k) => intra[k] + inter[k]);
  const d = drillDown(st, 2, 1);
  assert.equal(d.kind, 'tree');
  const v = (re: RegExp) => d.lines.find((l) => re.test(l.label))!.value as number;
  near(v(/^intra-tree A/), intra[2], 1e-9); near(v(/^inter-tree A/), inter[2], 1e-9); near(v(/^A = intra/), intra[2] + inter[2], 1e-9);
  assert.deepEqual(d.checks.filter((c) => !c.ok), []);
  assert.equal(d.checks.length, 4);
  // token 1 of sample 2 is in the prefix shared with samples 0 and 1 (both branch later than 1): 3 rows
  assert.equal(v(/trajectories that share it/), 3);
  near(v(/Σ advantages over those rows/), intra[0] + inter[0] + intra[1] + inter[1] + intra[2] + inter[2], 1e-6);
  assert.deepEqual(d.tables!.find((x) => x.id === 'tree-leaves')!.rows.map((r) => r[0]), ['#0', '#1', '#2']);
  // token 6 of sample 2: past its branch at 5, its own
  assert.equal(drillDown(st, 2, 6).lines.find((l) => /trajectories that share it/.test(l.label))!.value, 1);
  // a wrong stored inter-tree advantage fails its check
  const bad = drillDown(mkStep('tree_grpo', (k) => ({ advIntra: intra[k], advInter: inter[k] + (k === 2 ? 0.1 : 0) }), (k) => intra[k] + inter[k]), 2, 1);
  assert.deepEqual(bad.checks.filter((c) => !c.ok).map((c) => c.label), ['inter-tree advantage (stored)']);
  // ARPO (GRPO advantage over the group): the group explanation, plus the branch's entropy and the sharing rows
  const grpo = [1, -1, 1, -1, 0].map((x) => x * 0.999998000004);
  const arpo = mkStep('arpo', (k): Record<string, number> => (k === 1 ? { entropy: 1.5, entropyInitial: 1.1, entropyDelta: 0.36, branchProb: 0.8, threshold: 0.5 } : {}), (k) => grpo[k]);
  const a = drillDown(arpo, 1, 1);
  assert.equal(a.kind, 'group');
  assert.deepEqual(a.checks.filter((c) => !c.ok), []);
  assert.equal(a.lines.find((l) => /trajectories that share it/.test(l.label))!.value, 3);
  assert.match(String(a.lines.find((l) => /branch probability/.test(l.label))!.note), /threshold 0.5: above, branched/);
  near(a.lines.find((l) => /entropy rise/.test(l.label))!.value as number, 0.36, 0);
  assert.deepEqual(drillDown(arpo, 1, 3).checks.filter((c) => !c.ok), [], 'an environment token (mask 0, stored 0) is not compared with Â');
  // hard attribution (ARPO §3.2): a shared token gets the mean Â of the trajectories sharing it; by hand, c = 0.999998:
  // tree t0 (0 root, 1 at 3, 2 at 5): tokens 0–2 shared by all three → (1 − 1 + 1)/3·c; own tokens 5–7 → ±c
  // tree t1 (3 root, 4 at 3): tokens 0–2 → (−1 + 0)/2·c; own tokens → −c, 0
  const c = 0.999998000004;
  const row = (shared: number, own: number) => mask.map((m, j) => m * (j < 3 ? shared : own) * c);
  const hard = [row(1 / 3, 1), row(1 / 3, -1), row(1 / 3, 1), row(-0.5, -1), row(-0.5, 0)];
  const h = mkStep('arpo', () => ({}), (k) => grpo[k], hard, { arpoAttribution: 'hard' });
  for (const [smp, tok] of [[1, 1], [1, 6], [4, 0], [4, 7]]) {
    const dh = drillDown(h, smp, tok);
    assert.deepEqual(dh.checks.filter((x) => !x.ok), [], `sample ${smp} token ${tok}`);
    assert.ok(dh.checks.some((x) => /hard attribution/.test(x.label)), 'the hard-attribution check replaces the broadcast one');
  }
  // the same stored numbers read as soft attribution fail on the shared tokens
  const soft = mkStep('arpo', () => ({}), (k) => grpo[k], hard);
  assert.equal(drillDown(soft, 1, 1).checks.filter((x) => !x.ok).length, 1);
});

// A walkthrough found an environment token's Tree-GRPO drill-down leading with "A = intra + inter 2.70449" (the
// trajectory's number), its "loss mask 0" only further down: for every method it must lead with whose the token is.
test('an environment token (loss mask 0) leads with "the environment\'s, no gradient / advantage / KL", for every method', () => {
  const rewards = [1, 0, 1, 0, 0.5];
  const trees = [{ id: 'g/t0', parent: null, branchAt: 0 }, { id: 'g/t0', parent: 0, branchAt: 3, branchTurn: 1 }, { id: 'g/t0', parent: 0, branchAt: 5, branchTurn: 2 }, { id: 'g/t1', parent: null, branchAt: 0 }, { id: 'g/t1', parent: 3, branchAt: 3 }];
  const L = 8, mask = [1, 1, 1, 0, 0, 1, 1, 1];
  // turns: policy [0, 3), the tool's output [3, 5) ("28"), policy [5, 8)
  const turns = [{ text: '?1=', start: 0, end: 3, call: '1', result: '28', resultEnd: 5, reward: 0 }, { text: 'abc', start: 5, end: 8, reward: 0 }];
  const adv = [0.5, -1, 0.5, -0.7, 0.7];
  const mk = (algorithm: string, advantage: string, tree: (k: number) => Record<string, unknown> = () => ({})) => packRolloutStep({
    header: { step: 1, algorithm, arrays: ['advantage', 'mask'], groups: [{ id: 'g', prompt: 'p', samples: [0, 1, 2, 3, 4], rewards, mean: 0.5, std: 0.5 }], params: { advantage, eps: 1e-6 } },
    samples: trees.map((t, k) => ({ group: 'g', prompt: 'p', completion: 'x'.repeat(L), tokens: new Array(L).fill('x'), reward: rewards[k], advantage: adv[k], length: L, turns, tree: { ...t, ...tree(k) } })),
    arrays: trees.map((_, k) => ({ advantage: mask.map((m) => m * adv[k]), mask })),
  });
  const cases: [string, ReturnType<typeof mk>][] = [
    ['Tree-GRPO', mk('tree_grpo', 'tree_grpo', (k) => ({ advIntra: adv[k] / 2, advInter: adv[k] / 2 }))],
    ['GRPO', mk('arpo', 'grpo')],
    ['RLOO', mk('rloo', 'rloo')],
    ['Token', mk('mystery', 'mystery')],
  ];
  for (const [name, st] of cases) {
    const d = drillDown(st, 2, 4);
    assert.match(d.title, new RegExp(`^${name}: token 4 of sample 2 is the environment's \\(tool output\\)`), name);
    assert.match(d.lines[0].label, /token 4 of sample 2 is/, name);
    assert.match(String(d.lines[0].value), /^the environment's: tool result "28" of turn 0/, name);
    assert.equal(d.lines[1].value, 'none', name);
    assert.match(`${d.lines[1].label} ${d.lines[1].note}`, /gradient.*advantage.*KL/, name);
    // then what the policy tokens around it got (stored: 0.5 on tokens 2 and 5), then the method's numbers, labelled
    assert.equal(d.lines[2].value, 'token 2: A 0.5 · token 5: A 0.5', name);
    assert.match(d.lines[3].label, /^below: how .* credited this trajectory's policy tokens/, name);
    const firstNumber = d.lines.findIndex((l) => typeof l.value === 'number');
    assert.ok(firstNumber < 0 || firstNumber > 3, `${name}: no number before the lead`);
    assert.ok(d.checks.some((c) => /masked out of the loss/.test(c.label) && c.ok), name);
    assert.deepEqual(d.checks.filter((c) => /token 4/.test(c.label) && !c.ok), [], `${name}: no check compares the token with an advantage`);
  }
  // a policy token is explained as before (no lead)
  assert.match(drillDown(cases[0][1], 2, 1).lines[0].label, /^reward R/);
  // GiGPO: the same lead; the trajectory's A^E follows
  const de = drillDown(gigpoStep(), 0, 5);
  assert.match(de.title, /^GiGPO: token 5 of sample 0 is the environment's/);
  assert.match(String(de.lines[0].value), /tool result "3" of turn 0 \(after the call "\?1\+2="\)/);
  assert.equal(de.lines[1].value, 'none');
  assert.ok(de.lines.findIndex((l) => /^A\^E/.test(l.label)) > 2);
  // a policy token's note quotes the call text (never bare: "?1+2=" is text, not an index)
  assert.equal(drillDown(gigpoStep(), 0, 1).lines[0].note, 'called "?1+2="');
});

test('ARPO drill-down: P_t = α + β·ΔH_t vs τ, with the stored α', () => {
  const L = 6, mask = [1, 1, 1, 1, 1, 1];
  const st = packRolloutStep({
    header: { step: 1, algorithm: 'arpo', arrays: ['advantage', 'mask'], groups: [{ id: 'g', prompt: 'p', samples: [0, 1], rewards: [1, 0], mean: 0.5, std: 0.7 }], params: { advantage: 'grpo', eps: 1e-6, arpoTau: 0.5 } },
    samples: [
      { group: 'g', prompt: 'p', completion: 'x'.repeat(L), tokens: new Array(L).fill('x'), reward: 1, advantage: 0.7071, length: L, tree: { id: 'T', parent: null, branchAt: 0 } },
      { group: 'g', prompt: 'p', completion: 'x'.repeat(L), tokens: new Array(L).fill('x'), reward: 0, advantage: -0.7071, length: L, tree: { id: 'T', parent: 0, branchAt: 2, entropyDelta: 0.25, branchProb: 0.55, alpha: 0.3 } },
    ],
    arrays: [0.7071, -0.7071].map((a) => ({ advantage: mask.map((m) => m * a), mask })),
  });
  const d = drillDown(st, 1, 4);
  const p = d.lines.find((l) => /branch probability/.test(l.label))!;
  assert.match(p.label, /P_t = α \+ β·ΔH_t vs τ/);
  assert.equal(p.value, 0.55);
  assert.match(String(p.note), /^= α 0\.3 \+ β·ΔH 0\.25 · vs τ, threshold 0\.5: above, branched$/);
  assert.equal(d.lines.find((l) => /^ARPO: α/.test(l.label))!.value, 0.3);
});
