/**
 * ARPO (src/trainer/algorithms/arpo.ts) against values computed independently in float64 Python by
 * test/fixtures/arpo_ref.py (Dong et al. 2025, arXiv 2507.19849, Eq. 4, 5 and §3.2; the authors' rollout
 * vllm_rollout_with_tools.py: entropy of the first k tokens / ln V, prob = clip(u − w·ΔH, 0, 1) ≤ branch_probability),
 * committed as test/fixtures/arpo-reference.json:
 *   python3 test/fixtures/arpo_ref.py > test/fixtures/arpo-reference.json
 * The reference decides token sharing by token content (unique ids per generated token), the code by parent links.
 * Both sides compute in float64: tolerance 1e-12 absolute. Branch decisions must match exactly.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { arpoAdvantages, attributeAdvantages, branchCount, decideBranch, sharingSets, stepEntropy, tokenOwner, type TreeLink } from '../../src/trainer/algorithms/arpo';
import { Rng } from '../../src/trainer/rng';

interface Fx {
  entropy: { entropies: number[]; k: number; vocabSize: number; expected: number }[];
  decisions: { deltaH: number; alpha: number | null; beta: number; tau: number; u: number | null; expected: { alpha: number; p: number; branch: boolean } }[];
  attribution: { rewards: number[]; group: string[]; links: TreeLink[]; expected: { trajectoryAdvantages: number[]; hard: number[][]; soft: number[][]; sharing: number[][] } }[];
}
const fx = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'arpo-reference.json'), 'utf8')) as Fx;
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-12, `${what}: got ${a}, want ${b}`);

test('stepEntropy = Σ of the first k token entropies / ln V, as the code pools the top-10 log-probs of the first 20 tokens (V ≤ 10)', () => {
  assert.ok(fx.entropy.length >= 8);
  for (const [i, c] of fx.entropy.entries()) close(stepEntropy(c.entropies, c.k, c.vocabSize), c.expected, `case ${i}`);
  // environment tokens (NaN) are skipped and do not count towards k
  close(stepEntropy([1, NaN, 2, 3], 2, Math.E), 3, 'NaN skipped');
  assert.equal(stepEntropy([], 20, 10), 0);
  assert.throws(() => stepEntropy([1], 1, 1), /vocabSize must be > 1/);
});

test('decideBranch: P_t = α + β·ΔH_t, branch iff P_t > τ; α = 1 − u agrees with the code\'s clip(u − w·ΔH, 0, 1) ≤ 1 − τ', () => {
  let branched = 0, drawn = 0;
  for (const [i, c] of fx.decisions.entries()) {
    const draws: number[] = [];
    const src = { next: () => { draws.push(c.u!); return c.u!; } };
    const d = decideBranch(c.deltaH, { alpha: c.alpha, beta: c.beta, tau: c.tau }, src);
    close(d.alpha, c.expected.alpha, `case ${i} α`);
    close(d.p, c.expected.p, `case ${i} P_t`);
    assert.equal(d.branch, c.expected.branch, `case ${i} branch (ΔH ${c.deltaH}, P ${d.p}, τ ${c.tau})`);
    // a fixed α draws nothing; a null α draws exactly once
    assert.equal(draws.length, c.alpha === null ? 1 : 0, `case ${i} draws`);
    branched += +d.branch; drawn += +(c.alpha === null);
  }
  assert.ok(branched > 40 && branched < 160 && drawn > 100, `both outcomes covered: ${branched} branched, ${drawn} drawn`);
});

test('with a seeded rng, branching happens exactly when P_t = (1 − u) + β·ΔH_t > τ (u replayed from the same seed)', () => {
  const rng = new Rng(7), replay = new Rng(7);
  const o = { alpha: null, beta: 0.2, tau: 0.5 };
  let yes = 0, no = 0;
  for (let i = 0; i < 500; i++) {
    const dh = ((i % 21) - 10) / 4; // −2.5 … 2.5
    const d = decideBranch(dh, o, rng);
    const u = replay.next();
    const p = 1 - u + 0.2 * dh;
    assert.equal(d.p, p);
    assert.equal(d.branch, p > 0.5, `i ${i}: P ${p}`);
    if (d.branch) yes++; else no++;
  }
  assert.ok(yes > 100 && no > 100, `${yes} / ${no}`);
  // a rising entropy makes branching more likely: ΔH = +2.5 → P > 0.5 always (β·ΔH = 0.5); ΔH = −2.5 → never
  const r2 = new Rng(3);
  for (let i = 0; i < 50; i++) { assert.equal(decideBranch(2.5, o, r2).branch, true); assert.equal(decideBranch(-2.5, o, r2).branch, false); }
  // the boundary: P_t = τ does not branch
  assert.equal(decideBranch(0, { alpha: 0.5, beta: 1, tau: 0.5 }, r2).branch, false);
  assert.equal(decideBranch(1e-9, { alpha: 0.5, beta: 1, tau: 0.5 }, r2).branch, true);
  // the budget caps Z
  assert.deepEqual([branchCount(1, 8, 4), branchCount(3, 8, 6), branchCount(2, 8, 8), branchCount(2, 8, 9)], [1, 2, 0, 0]);
});

test('attribution matches the reference: GRPO Â over the prompt\'s trajectories; soft = Â_i, hard = mean Â over the trajectories sharing the token', () => {
  assert.ok(fx.attribution.length >= 10 && fx.attribution.some((c) => c.expected.sharing.some((r) => r.some((d) => d >= 3))));
  for (const [i, c] of fx.attribution.entries()) {
    const hard = arpoAdvantages({ rewards: c.rewards, group: c.group, links: c.links, mode: 'hard' });
    const soft = arpoAdvantages({ rewards: c.rewards, group: c.group, links: c.links, mode: 'soft' });
    hard.trajectoryAdvantages.forEach((v, b) => close(v, c.expected.trajectoryAdvantages[b], `case ${i} Â[${b}]`));
    hard.tokenAdvantages.forEach((row, b) => { assert.equal(row.length, c.links[b].length); row.forEach((v, j) => close(v, c.expected.hard[b][j], `case ${i} hard[${b}][${j}]`)); });
    soft.tokenAdvantages.forEach((row, b) => row.forEach((v, j) => close(v, c.expected.soft[b][j], `case ${i} soft[${b}][${j}]`)));
    sharingSets(c.links).forEach((row, b) => row.forEach((s, j) => assert.equal(s.length, c.expected.sharing[b][j], `case ${i} d[${b}][${j}]`)));
  }
});

test('the hand tree: two branches of one root; shared tokens get the mean of the sharers\' advantages', () => {
  // root 0 (6 tokens); 1 branches from 0 at 2; 2 branches from 1 at 4; 3 is another root of the same prompt
  const links: TreeLink[] = [
    { tree: 'a/t0', parent: null, branchAt: 0, length: 6 },
    { tree: 'a/t0', parent: 0, branchAt: 2, length: 5 },
    { tree: 'a/t0', parent: 1, branchAt: 4, length: 7 },
    { tree: 'a/t1', parent: null, branchAt: 0, length: 3 },
  ];
  const A = [1, -1, 3, 5];
  const h = attributeAdvantages(A, links, 'hard');
  // tokens 0, 1: shared by 0, 1, 2 → (1 − 1 + 3)/3 = 1; tokens 2, 3 of 1 and 2: owned by 1, shared by 1, 2 → 1
  assert.deepEqual(h[0], [1, 1, 1, 1, 1, 1]);
  assert.deepEqual(h[1], [1, 1, 1, 1, -1]);
  assert.deepEqual(h[2], [1, 1, 1, 1, 3, 3, 3]);
  assert.deepEqual(h[3], [5, 5, 5]);
  assert.equal(tokenOwner(links, 2, 1), 0);
  assert.equal(tokenOwner(links, 2, 3), 1);
  assert.equal(tokenOwner(links, 2, 4), 2);
  assert.deepEqual(attributeAdvantages(A, links, 'soft')[1], [-1, -1, -1, -1, -1]);
  assert.throws(() => attributeAdvantages([1], links, 'hard'), /1 advantages for 4 trajectories/);
  assert.throws(() => sharingSets([{ tree: 'x', parent: 3, branchAt: 0, length: 1 }]), /names parent 3/);
  assert.throws(() => sharingSets([{ tree: 'x', parent: null, branchAt: 0, length: 2 }, { tree: 'x', parent: 0, branchAt: 5, length: 6 }]), /branches at 5/);
});
