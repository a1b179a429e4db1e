// Pure data functions of the webviews (src/webview/data). Expected values computed independently in
// numpy (script in the comments) or by hand; tolerances stated per assertion.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { quantileSorted, robustDomain, divergingScale, sequentialScale, paletteFor, textColorOn, legendTicks, fmt } from '../../src/webview/data/scales';
import { displayToken, displayText } from '../../src/webview/data/tokens';
import { gae, tdResiduals, gaeTerms, maskedWhitenStats, whiten, klPenalizedTokenReward, groupAdvantage, implicitReward, dpoLoss, drillDown } from '../../src/webview/data/drilldown';
import { emaSmooth, nearestIndex, decimate, groupMetricNames, SeriesStore, yExtent, nearestRolloutStep } from '../../src/webview/data/series';
import { sampleStats, sortAndFilter, searchTokens, groupSummary, alignGroup, metricValues, availableMetrics, type StepData } from '../../src/webview/data/step';
import { parseWebviewMessage, parseHostMessage } from '../../src/shared/protocol';
import { readRolloutStep, listRolloutSteps } from '../../src/runio/reader';
import { makeRun } from '../fixtures/makeRun';

const near = (a: number, b: number, tol: number, msg?: string) => assert.ok(Math.abs(a - b) <= tol, `${msg ?? ''} expected ${b}, got ${a} (tol ${tol})`);

test('quantile matches numpy linear percentiles', () => {
  // np.percentile([0.5,-2,3,1,100,-0.25,0,2.5,-1.5,4], [10, 90, 1, 99]) = [-1.55, 13.6, -1.955, 91.36]
  const x = Float64Array.from([0.5, -2, 3, 1, 100, -0.25, 0, 2.5, -1.5, 4]).sort();
  near(quantileSorted(x, 0.10), -1.55, 1e-12);
  near(quantileSorted(x, 0.90), 13.6, 1e-9);
  near(quantileSorted(x, 0.01), -1.955, 1e-12);
  near(quantileSorted(x, 0.99), 91.36, 1e-9);
});

test('robust domain clips outliers, states the raw range, is symmetric for signed metrics', () => {
  const x = [0.5, -2, 3, 1, 100, -0.25, 0, 2.5, -1.5, 4, NaN, Infinity];
  const seq = robustDomain(x, { signed: false, pLow: 10, pHigh: 90 });
  near(seq.lo, -1.55, 1e-12); near(seq.hi, 13.6, 1e-9);
  assert.equal(seq.rawMin, -2); assert.equal(seq.rawMax, 100); assert.equal(seq.clipped, true); assert.equal(seq.count, 10);
  const div = robustDomain(x, { signed: true, pLow: 10, pHigh: 90 });
  near(div.lo, -13.6, 1e-9); near(div.hi, 13.6, 1e-9);
  const all = robustDomain([1, 2, 3], { signed: false, pLow: 0, pHigh: 100 });
  assert.deepEqual([all.lo, all.hi, all.clipped], [1, 3, false]);
  const flat = robustDomain([2, 2, 2], { signed: false });
  assert.ok(flat.hi > flat.lo, 'degenerate domain widened');
  const empty = robustDomain([NaN], { signed: true });
  assert.equal(empty.count, 0);
  // float noise (an all-equal group's ±2.2e-10 "advantages") is not stretched to full colour: half-width ≥ 1e-6
  const noise = robustDomain([2.2e-10, -2.2e-10, 0, 2.2e-10], { signed: true, pLow: 0, pHigh: 100 });
  assert.deepEqual([noise.lo, noise.hi, noise.rawMax], [-1e-6, 1e-6, 2.2e-10]);
  const small = robustDomain([3e-6, -1e-6], { signed: true, pLow: 0, pHigh: 100 });
  assert.deepEqual([small.lo, small.hi], [-3e-6, 3e-6], 'above the floor: unchanged');
});

test('diverging scale is centred on 0 (background), sequential runs low→high; text colour contrasts', () => {
  const pal = paletteFor('light', '#ffffff');
  const d = robustDomain([-2, -1, 0, 1, 2], { signed: true, pLow: 0, pHigh: 100 });
  const f = divergingScale(d, pal);
  assert.equal(f(0), 'rgb(255, 255, 255)');
  assert.equal(f(-2), 'rgb(217, 95, 2)');   // #d95f02 = negative end
  assert.equal(f(2), 'rgb(31, 111, 181)');  // #1f6fb5 = positive end
  assert.equal(f(50), f(2), 'clamped beyond the domain');
  const s = sequentialScale(robustDomain([0, 1], { signed: false, pLow: 0, pHigh: 100 }), pal);
  assert.equal(s(0), 'rgb(255, 255, 255)');
  assert.equal(s(1), 'rgb(8, 48, 107)');
  assert.equal(textColorOn('#ffffff'), '#000000');
  assert.equal(textColorOn('#08306b'), '#ffffff');
  assert.deepEqual(legendTicks({ lo: -1, hi: 1 } as never, 5), [-1, -0.5, 0, 0.5, 1]);
  assert.equal(fmt(-0.5), '−0.5');
  assert.equal(fmt(NaN), '—');
});

test('tokens: whitespace, controls, bidi and zero-width become visible; specials flagged; markup stays literal', () => {
  assert.equal(displayToken(' a\n').text, '␣a↵');
  assert.equal(displayToken('\t').text, '⇥');
  assert.equal(displayToken('\u0007').text, '␇');
  assert.equal(displayToken('\u202Eevil').text, '⟨RLO⟩evil');
  assert.equal(displayToken('a\u200Bb').text, 'a⟨ZWSP⟩b');
  assert.equal(displayToken('<script>alert(1)</script>').text, '<script>alert(1)</script>');
  assert.equal(displayToken('<eos>').special, true);
  assert.equal(displayToken('<|endoftext|>').special, true);
  assert.equal(displayToken('').text, '∅');
  assert.equal(displayText('a b\nc'), 'a␣b↵\nc');
});

test('GAE, TD residuals and whitening match numpy (verl recursion), terms add up', () => {
  // numpy: r=[-.01,.02,-.03,.9], V=[.3,.5,.4,.6], γ=.99, λ=.95 (see test header)
  const r = [-0.01, 0.02, -0.03, 0.9], v = [0.3, 0.5, 0.4, 0.6], m = [1, 1, 1, 1];
  const d = tdResiduals(r, v, m, 0.99);
  [0.185, -0.084, 0.164, 0.3].forEach((x, t) => near(d[t], x, 1e-12, `δ_${t}`));
  const g = gae(r, v, m, 0.99, 0.95);
  [0.5006356325375, 0.335604075, 0.44615, 0.3].forEach((x, t) => near(g.advantages[t], x, 1e-12, `A_${t}`));
  [0.8006356325374999, 0.835604075, 0.84615, 0.9].forEach((x, t) => near(g.returns[t], x, 1e-12, `R_${t}`));
  const terms = gaeTerms(g.deltas, m, 0, 0.99, 0.95);
  assert.equal(terms.length, 4);
  near(terms.reduce((a, x) => a + x.contribution, 0), 0.5006356325375, 1e-12, 'Σ terms');
  near(terms[2].weight, (0.99 * 0.95) ** 2, 1e-15);
  // second sample r2=[.1,-.2,.5], V2=[.2,.1,.3]; whitening over both (unbiased var): mean .30579660821964, var .01699265980388
  const g2 = gae([0.1, -0.2, 0.5], [0.2, 0.1, 0.3], [1, 1, 1], 0.99, 0.95);
  const st = maskedWhitenStats([g.advantages, g2.advantages], [m, [1, 1, 1]]);
  near(st.mean, 0.3057966082196429, 1e-8); near(st.variance, 0.016992659803877774, 1e-8);
  [1.494669377629138, 0.2286621377687444, 1.076693529311922, -0.044467543554720254].forEach((x, t) => near(whiten(g.advantages[t], st), x, 1e-6, `Â_${t}`));
  // mask carry-through: a masked middle token keeps A and next V of the following valid token
  const gm = gae([0, 0, 1], [0.5, 9, 0.2], [1, 0, 1], 1, 1);
  // valid tokens 0 and 2: δ_2 = 1 − .2 = .8; δ_0 = 0 + .2 − .5 = −.3; A_0 = −.3 + .8 = .5; A_1 carries A_2 = .8
  near(gm.advantages[2], 0.8, 1e-12); near(gm.advantages[0], 0.5, 1e-12); near(gm.advantages[1], 0.8, 1e-12);
});

test('KL-penalised token reward puts the score on the last valid token', () => {
  // numpy: -0.1*[0.1,-0.2,0.3,0.05] + [0,0,0,1]
  const rr = klPenalizedTokenReward(1, [0.1, -0.2, 0.3, 0.05], [1, 1, 1, 1], 0.1);
  [-0.01, 0.02, -0.03, 0.995].forEach((x, t) => near(rr[t], x, 1e-12));
  const masked = klPenalizedTokenReward(2, [0, 0, 0], [1, 1, 0], 0.1);
  assert.deepEqual(Array.from(masked), [0, 2, 0]);
});

test('group advantages: GRPO, Dr.GRPO, RLOO, Reinforce-Rej, RAFT match numpy', () => {
  // rewards [1,0,1,.5]: mean .625, std(ddof=1) .47871355387816905
  const rw = [1, 0, 1, 0.5];
  const grpo = [0.7833478154404222, -1.3055796924007037, 0.7833478154404222, -0.26111593848014075];
  rw.forEach((_, i) => near(groupAdvantage('grpo', rw, i).advantage, grpo[i], 1e-12));
  const g1 = groupAdvantage('grpo', rw, 1);
  near(g1.mean, 0.625, 1e-15); near(g1.std, 0.47871355387816905, 1e-15); assert.equal(g1.rank, 4);
  [0.375, -0.625, 0.375, -0.125].forEach((x, i) => near(groupAdvantage('dr_grpo', rw, i).advantage, x, 1e-15));
  [0.5, -0.8333333333333334, 0.5, -0.16666666666666663].forEach((x, i) => near(groupAdvantage('rloo', rw, i).advantage, x, 1e-12));
  assert.equal(groupAdvantage('reinforce_rej', [1, 1, 1], 0).advantage, 0);
  assert.equal(groupAdvantage('reinforce_rej', rw, 3).advantage, 0.5);
  assert.equal(groupAdvantage('raft', [-1, 2], 0).advantage, 0);
});

test('DPO implicit rewards and loss match numpy', () => {
  // β=.1: r_c = .1·Σ([-.5,-1,-.2]−[-.7,-1.1,-.6]) = .07; r_r = .1·Σ([-1.5,-.3]−[-1,-.4]) = −.04; loss = .6396589186224231
  const rc = implicitReward([-0.5, -1, -0.2], [-0.7, -1.1, -0.6], [1, 1, 1], 0.1);
  const rr = implicitReward([-1.5, -0.3], [-1, -0.4], [1, 1], 0.1);
  near(rc, 0.07, 1e-12); near(rr, -0.04, 1e-12);
  near(dpoLoss(rc, rr), 0.6396589186224231, 1e-12);
  near(dpoLoss(800, 0), 0, 1e-12); near(dpoLoss(0, 800), 800, 1e-9);
});

test('EMA smoothing (TensorBoard debiased), nearest step, decimation keeps spikes, grouping', () => {
  // numpy: w=.6 on [1,2,0,4] → [1, 1.625, 0.7959183673469388, 2.2683823529411766]
  const e = emaSmooth([1, 2, 0, 4], 0.6);
  [1, 1.625, 0.7959183673469388, 2.2683823529411766].forEach((x, i) => near(e[i], x, 1e-12));
  assert.deepEqual(Array.from(emaSmooth([1, 2], 0)), [1, 2]);
  assert.equal(nearestIndex([1, 5, 10], 7), 1);
  assert.equal(nearestIndex([1, 5, 10], 8), 2);
  assert.equal(nearestIndex([], 8), -1);
  const steps = Array.from({ length: 10000 }, (_, i) => i), vals = steps.map((i) => (i === 5123 ? 100 : Math.sin(i)));
  const idx = decimate(steps, vals, 0, 9999, 200);
  assert.ok(idx.length <= 200 * 4 + 4 && idx.length > 200, `decimated to ${idx.length}`);
  assert.ok(idx.includes(5123), 'spike kept');
  for (let k = 1; k < idx.length; k++) assert.ok(idx[k] > idx[k - 1]);
  const gm = groupMetricNames(['reward/mean', 'kl', 'kl/beta', 'entropy', 'clip_ratio/low_mean', 'response_length/clip_ratio', 'loss/policy', 'grad_norm', 'lr', 'perf/tokens_per_s', 'eval/pass@4', 'foo']);
  assert.deepEqual(gm.map((g) => [g.id, g.names]), [
    ['reward', ['reward/mean']], ['kl', ['kl', 'kl/beta']], ['entropy', ['entropy']], ['lengths', ['response_length/clip_ratio']],
    ['clipping', ['clip_ratio/low_mean']], ['losses', ['loss/policy']], ['optim', ['grad_norm', 'lr']], ['throughput', ['perf/tokens_per_s']],
    ['eval', ['eval/pass@4']], ['other', ['foo']]]);
  assert.deepEqual(yExtent([{ steps: [1, 2, 3], values: [0, 10, 1000] }], 1, 2), [-0.5, 10.5]);
  assert.equal(nearestRolloutStep([5, 10, 15], 12), 10);
});

test('series store appends only new steps (streaming)', () => {
  const st = new SeriesStore();
  st.appendMetrics([{ step: 1, values: { a: 1, b: null } }, { step: 2, values: { a: 2 } }]);
  st.appendMetrics([{ step: 2, values: { a: 99 } }, { step: 3, values: { a: 3 } }]);
  st.appendEvals([{ step: 3, passAtK: { '1': 0.5 }, samplesPerPrompt: 4, numPrompts: 2 }]);
  assert.deepEqual(Array.from(st.series.get('a')!.values.view()), [1, 2, 3]);
  assert.equal(st.series.has('b'), false);
  assert.deepEqual(Array.from(st.series.get('eval/pass@1')!.values.view()), [0.5]);
});

test('protocol envelopes are validated', () => {
  assert.ok('error' in parseWebviewMessage({ kind: 'request', id: 1, method: 'rm -rf', params: {} }));
  assert.ok('error' in parseWebviewMessage({ kind: 'request', id: 'x', method: 'runs/list', params: {} }));
  assert.ok('error' in parseWebviewMessage({ kind: 'notification', method: 'ready' }));
  assert.ok(!('error' in parseWebviewMessage({ kind: 'notification', method: 'ready', params: { view: 'heatmap', protocol: 1 } })));
  assert.ok(!('error' in parseWebviewMessage({ kind: 'request', id: 3, method: 'rollout/getStep', params: { runDir: '/x', step: 1 } })));
  assert.ok('error' in parseHostMessage({ kind: 'notification', method: 'nope', params: {} }));
  assert.ok(!('error' in parseHostMessage({ kind: 'response', id: 3, ok: true, result: 1 })));
});

function loadStep(dir: string, step?: number): StepData {
  const s = step ?? listRolloutSteps(dir).at(-1)!;
  const { header, samples, data } = readRolloutStep(dir, s);
  return { header, samples, data };
}

test('drill-down on synthetic runs: PPO (GAE + whitening), GRPO and DPO numbers add up and match what the writer stored', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-wv-'));
  try {
    const ppo = loadStep(makeRun({ dir: path.join(tmp, 'ppo'), algorithm: 'ppo', steps: 5, groups: 3, groupSize: 2 }));
    for (const [i, t] of [[0, 0], [1, 3], [5, 2]]) {
      const dd = drillDown(ppo, i, t);
      assert.equal(dd.kind, 'ppo');
      assert.ok(dd.checks.length >= 4);
      for (const c of dd.checks) assert.ok(c.ok, `${c.label}: computed ${c.computed} stored ${c.stored}`);
    }
    const grpo = loadStep(makeRun({ dir: path.join(tmp, 'grpo'), algorithm: 'grpo', steps: 5 }));
    const dd = drillDown(grpo, 1, 2);
    assert.equal(dd.kind, 'group');
    assert.equal(dd.group!.length, 4);
    for (const c of dd.checks) assert.ok(c.ok, `${c.label}: computed ${c.computed} stored ${c.stored}`);
    const dpo = loadStep(makeRun({ dir: path.join(tmp, 'dpo'), algorithm: 'dpo', steps: 5 }));
    const dp = drillDown(dpo, 1, 0);
    assert.equal(dp.kind, 'dpo');
    assert.ok(dp.checks.length === 2 && dp.checks.every((c) => c.ok));
    // a corrupted stored advantage is detected (the check can fail)
    const bad = { ...ppo, data: Float32Array.from(ppo.data) };
    const k = bad.header.arrays.indexOf('advantage');
    bad.data[bad.samples[0].offset! + k * bad.samples[0].length + 0] += 0.5;
    assert.ok(drillDown(bad, 0, 0).checks.some((c) => !c.ok));
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});

test('sample stats, sort, filter, search and group alignment on a synthetic GRPO step', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-wv-'));
  try {
    const st = loadStep(makeRun({ dir: path.join(tmp, 'g'), algorithm: 'grpo', steps: 5, hostile: true }));
    assert.ok(availableMetrics(st).some((m) => m.id === 'logprob_minus_ref'));
    const lp = metricValues(st, 0, 'logprob'), ref = metricValues(st, 0, 'ref_logprob'), d = metricValues(st, 0, 'logprob_minus_ref');
    near(d[2], lp[2] - ref[2], 1e-6);
    const stats = sampleStats(st);
    assert.equal(stats.length, 24);
    const byReward = sortAndFilter(stats, { key: 'reward', descending: true }, { groups: 'all' });
    for (let k = 1; k < byReward.length; k++) assert.ok(st.samples[byReward[k - 1]].reward >= st.samples[byReward[k]].reward);
    const byLen = sortAndFilter(stats, { key: 'length', descending: false }, { groups: 'all' });
    for (let k = 1; k < byLen.length; k++) assert.ok(st.samples[byLen[k - 1]].length <= st.samples[byLen[k]].length);
    const filtered = sortAndFilter(stats, { key: 'index', descending: false }, { groups: 'filtered' });
    // expected: every sample of a group whose rewards are all equal (g5 is built that way; others may be by chance)
    const zeroVar = st.header.groups.filter((g) => new Set(g.samples.map((i) => st.samples[i].reward)).size === 1).flatMap((g) => g.samples).sort((a, b) => a - b);
    assert.ok(zeroVar.includes(20));
    assert.deepEqual(filtered, zeroVar);
    const kept = sortAndFilter(stats, { key: 'index', descending: false }, { groups: 'kept', minReward: 1 });
    assert.ok(kept.every((i) => i < 20 && st.samples[i].reward >= 1));
    const clipCounts = stats.map((s) => s.clips);
    assert.ok(clipCounts.some((c) => c > 0), 'synthetic run has clipped tokens');
    const hits = searchTokens(st, [0, 1, 2], 'the sum');
    assert.ok(hits.length >= 2);
    for (const h of hits) assert.match(' the sum'.toLowerCase(), new RegExp(st.samples[h.sample].tokens[h.token].toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    assert.deepEqual(searchTokens(st, [0], '<script>').map((h) => h.token), [1]);
    const gs = groupSummary(st, 'g0')!;
    assert.equal(gs.samples.length, 4);
    near(gs.mean, gs.stored.mean, 1e-12); near(gs.stdUnbiased, gs.stored.std, 1e-12);
    assert.deepEqual(gs.partNames, ['accuracy', 'format']);
    const al = alignGroup(st, gs.samples);
    assert.equal(al.width, gs.width);
    al.cells.forEach((row, r) => { assert.equal(row.length, al.width); assert.equal(row.filter((c) => c >= 0).length, st.samples[gs.samples[r]].length); });
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});

test('dashboard puts small-magnitude series (lr next to grad norm) on a right axis', async () => {
  const { splitAxes } = await import('../../src/webview/data/series');
  const m = new Map([['grad_norm', [{ steps: [1, 2], values: [0.5, 3] }]], ['lr', [{ steps: [1, 2], values: [1e-4, 1e-4] }]]]);
  assert.deepEqual([...splitAxes(m, 0, 10)], ['lr']);
  const same = new Map([['a', [{ steps: [1], values: [1] }]], ['b', [{ steps: [1], values: [0.2] }]]]);
  assert.equal(splitAxes(same, 0, 10).size, 0);
});

test('envelope and one-point-per-pixel decimation for smoothed lines', async () => {
  const { envelope, decimateLast } = await import('../../src/webview/data/series');
  // steps 0..9, values v = step with a spike at 7; 2 buckets over [0, 10): [0..4], [5..9]
  const steps = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], vals = [0, 1, 2, 3, 4, 5, 6, 70, 8, 9];
  const e = envelope(steps, vals, 0, 10, 2);
  assert.deepEqual(e, { x: [2, 7], lo: [0, 5], hi: [4, 70] });
  const idx = decimateLast(Array.from({ length: 1000 }, (_, i) => i), 0, 999, 10);
  assert.equal(idx[0], 0); assert.equal(idx.at(-1), 999);
  assert.ok(idx.length <= 12, `${idx.length} points`);
});

test('a stored per-token array RL Lens does not know is offered under its own name (importers keep trainers\' fields); mask and old_logprob are not', async () => {
  const { metricsFor, metricDef } = await import('../../src/webview/data/step');
  const ids = metricsFor(['advantage', 'mask', 'old_logprob', 'logprob', 'ref_logprob', 'response_entropy_custom']).map((m) => m.id);
  assert.deepEqual(ids, ['advantage', 'logprob', 'ref_logprob', 'logprob_minus_ref', 'response_entropy_custom']);
  const d = metricDef('response_entropy_custom');
  assert.equal(d.id, 'response_entropy_custom');
  assert.deepEqual(d.needs, ['response_entropy_custom']);
  assert.equal(metricDef('').id, 'advantage', 'no id → the first known metric');
  assert.equal(metricDef('mask').id, 'advantage', 'mask is never a metric of its own');
});
