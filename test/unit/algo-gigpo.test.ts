/**
 * GiGPO advantages (src/trainer/algorithms/gigpo.ts, façade gigpoAdvantages) against values computed independently in
 * float64 Python by test/fixtures/gigpo_ref.py (Feng et al. 2025, arXiv 2505.10978, Eq. 3, 5, 6, 7, 8; normalisation
 * as verl-agent gigpo/core_gigpo.py), committed as test/fixtures/gigpo-reference.json:
 *   python3 test/fixtures/gigpo_ref.py > test/fixtures/gigpo-reference.json
 * Both sides compute in float64: tolerance 1e-12 absolute.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gigpoAdvantages, stepDiscountedReturns, type GigpoMode } from '../../src/trainer/algorithms/gigpo';

interface Case { group: string[]; stepRewards: number[][]; anchors: string[][]; gamma: number; omega: number; mode: GigpoMode; eps: number; expected: { episodeAdvantages: number[]; stepReturns: number[][]; stepAdvantages: number[][]; advantages: number[][]; stepGroups: string[][] } }
const fx = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'gigpo-reference.json'), 'utf8')) as { gigpo: Case[] };

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-12, `${what}: got ${a}, want ${b}`);

test('gigpoAdvantages matches the float64 reference (A^E, R_t, step groups, A^S, A = A^E + ω·A^S; both modes, γ 1 / 0.95 / 0.5, ω 0 … 2)', () => {
  assert.ok(fx.gigpo.length >= 10 && fx.gigpo.some((c) => c.mode === 'mean_norm') && fx.gigpo.some((c) => c.mode === 'mean_std_norm'));
  for (const [i, c] of fx.gigpo.entries()) {
    const got = gigpoAdvantages({ group: c.group, stepRewards: c.stepRewards, anchors: c.anchors, gamma: c.gamma, omega: c.omega, mode: c.mode, eps: c.eps });
    got.episodeAdvantages.forEach((v, b) => close(v, c.expected.episodeAdvantages[b], `case ${i} A^E[${b}]`));
    assert.deepEqual(got.stepGroups, c.expected.stepGroups, `case ${i} step groups`);
    for (const k of ['stepReturns', 'stepAdvantages', 'advantages'] as const) got[k].forEach((row, b) => row.forEach((v, t) => close(v, c.expected[k][b][t], `case ${i} ${k}[${b}][${t}]`)));
  }
});

test('the hand case: shared anchors form step groups across trajectories; a singleton step group has A^S = 0; ω = 0 is episode-level GRPO', () => {
  const c = fx.gigpo[0];
  const g = gigpoAdvantages(c);
  // trajectories 0 and 1 both saw tool output 3 after the prompt: their second steps share a group; trajectory 2's does not
  assert.equal(g.stepGroups[0][1], g.stepGroups[1][1]);
  assert.notEqual(g.stepGroups[0][1], g.stepGroups[2][1]);
  assert.equal(g.stepGroups[0][0], g.stepGroups[2][0]);
  assert.equal(g.stepAdvantages[2][1], 0);
  assert.equal(g.stepAdvantages[3][0], 0);
  // the lone trajectory of group b: mean 0, std 1 (core_gigpo): A^E = R / (1 + ε)
  close(g.episodeAdvantages[3], 0.5 / (1 + 1e-6), 'singleton episode group');
  const e = gigpoAdvantages({ ...c, omega: 0 });
  e.advantages.forEach((row, b) => row.forEach((v) => assert.equal(v, e.episodeAdvantages[b])));
  // Eq. 5
  assert.deepEqual(stepDiscountedReturns([0, 0, 1], 0.5), [0.25, 0.5, 1]);
});

test('bad input names what is wrong', () => {
  assert.throws(() => gigpoAdvantages({ group: ['a'], stepRewards: [[1], [2]], anchors: [['x']], gamma: 1, omega: 1 }), /one entry per trajectory/);
  assert.throws(() => gigpoAdvantages({ group: ['a'], stepRewards: [[1, 2]], anchors: [['x']], gamma: 1, omega: 1 }), /trajectory 0 has 2 step rewards and 1 anchors/);
});
