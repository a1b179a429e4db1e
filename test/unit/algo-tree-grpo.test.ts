/**
 * Tree-GRPO advantages (src/trainer/algorithms/treeGrpo.ts, façade treeGrpoAdvantages) against values computed
 * independently in float64 Python by test/fixtures/tree_grpo_ref.py (written from the authors' ray_trainer_ts.py
 * compute_advantage 'tree' and core_algos.compute_grpo_outcome_advantage), committed as
 * test/fixtures/tree-grpo-reference.json:
 *   python3 test/fixtures/tree_grpo_ref.py > test/fixtures/tree-grpo-reference.json
 * Both sides compute in float64: tolerance 1e-9 absolute — groups whose rewards are all equal (0.7 …) have std ≈ 0, and
 * the last-bit difference between the two means (JS sums left to right, Python's fmean exactly) is divided by ε (1e-6):
 * 1e-16 / 1e-6 = 1e-10; every other value agrees to 1e-14.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chooseExpansionNodes, treeGrpoAdvantages } from '../../src/trainer/algorithms/treeGrpo';

interface Case { rewards: number[]; prompt: string[]; tree: string[]; eps: number; expected: { intra: number[]; inter: number[]; advantages: number[] } }
const fx = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'tree-grpo-reference.json'), 'utf8')) as { treeGrpo: Case[] };

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-9, `${what}: got ${a}, want ${b}`);

test('treeGrpoAdvantages matches the float64 reference (Â_intra over the tree, Â_inter over the prompt, Â = sum; 13 forests, ε 1e-6 / 1e-3)', () => {
  assert.ok(fx.treeGrpo.length >= 10);
  for (const [i, c] of fx.treeGrpo.entries()) {
    const got = treeGrpoAdvantages({ rewards: c.rewards, prompt: c.prompt, tree: c.tree, eps: c.eps });
    for (const k of ['intra', 'inter', 'advantages'] as const) {
      assert.equal(got[k].length, c.expected[k].length);
      got[k].forEach((v, b) => close(v, c.expected[k][b], `case ${i} ${k}[${b}]`));
    }
  }
});

test('the hand case: intra-tree groups are the trees, inter-tree the prompt; a lone leaf has mean 0, std 1 on both levels', () => {
  const c = fx.treeGrpo[0];
  const g = treeGrpoAdvantages(c);
  // tree p/t0 = {1.1, 0.1, 1.1}: mean 0.7667, std 0.5774 → the right answers +0.577, the wrong one −1.155
  close(g.intra[0], (1.1 - 2.3 / 3) / (Math.sqrt(((1.1 - 2.3 / 3) ** 2 * 2 + (0.1 - 2.3 / 3) ** 2) / 2) + 1e-6), 'intra of a right leaf');
  // the two trees of prompt p share one inter-tree group of 6 leaves
  close(g.inter[0], g.inter[2], 'same reward, same prompt → same inter-tree advantage');
  assert.notEqual(g.intra[1], g.intra[3]);
  // a 0.1 leaf is below its own tree's mean in t0 but above it in t1: intra-tree signs differ, inter-tree do not
  assert.ok(g.intra[1] < 0 && g.intra[3] > 0 && g.inter[1] === g.inter[3]);
  close(g.intra[6], 0.5 / (1 + 1e-6), 'singleton tree');
  close(g.inter[6], 0.5 / (1 + 1e-6), 'singleton prompt');
  g.advantages.forEach((a, b) => assert.equal(a, g.intra[b] + g.inter[b]));
});

test('bad input names what is wrong; expansion nodes are drawn with replacement from the root and the inner nodes', () => {
  assert.throws(() => treeGrpoAdvantages({ rewards: [1, 2], prompt: ['p'], tree: ['t', 't'] }), /one entry per leaf/);
  assert.throws(() => treeGrpoAdvantages({ rewards: [1, 2], prompt: ['p', 'q'], tree: ['t', 't'] }), /tree "t" has leaves of two prompts/);
  assert.deepEqual(chooseExpansionNodes(['root', 'a', 'b'], 4, [0, 0.34, 0.99, 0.1]), ['root', 'a', 'b', 'root']);
  assert.throws(() => chooseExpansionNodes([], 1, [0.5]), /no candidate node/);
});
