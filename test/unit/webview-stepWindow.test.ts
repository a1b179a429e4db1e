// Windowed heatmap (issue 18): the host's random-access StepSource (src/host/ui/panels/stepSource.ts) answers the
// same numbers as the whole-step code it replaces (readRolloutStep + webview/data/step.ts, drilldown.ts, scales.ts),
// reads only the byte ranges it returns, and the page's bounded cache (src/webview/data/stepWindow.ts) keeps the
// cells of the view and drops the least recently used ones past its budget.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { makeRun } from '../fixtures/makeRun';
import { readRolloutStep, listRolloutSteps } from '../../src/runio/reader';
import { sampleArray } from '../../src/shared/rolloutStep';
import { BLOCK_TOKENS, StepSource, stepSource } from '../../src/host/ui/panels/stepSource';
import { StepWindows } from '../../src/webview/data/stepWindow';
import { domainFromStats, domainStats, robustDomain } from '../../src/webview/data/scales';
import { availableMetrics, metricsFor, metricValues, metricValuesOver, sampleStats, sampleStatsFrom, searchTokens } from '../../src/webview/data/step';
import { drillDown } from '../../src/webview/data/drilldown';
import { webviewRequestHandlers, type RequestContext } from '../../src/host/ui/panels/requests';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-window-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
const grpo = makeRun({ dir: path.join(tmp, 'grpo'), algorithm: 'grpo', steps: 4, rolloutEvery: 1, groups: 4, groupSize: 4, maxLen: 600, seed: 21 });
const ppo = makeRun({ dir: path.join(tmp, 'ppo'), algorithm: 'ppo', steps: 2, rolloutEvery: 1, groups: 3, groupSize: 3, seed: 22 });
const dpo = makeRun({ dir: path.join(tmp, 'dpo'), algorithm: 'dpo', steps: 2, rolloutEvery: 1, seed: 23 });

test('exact percentiles by histogram selection equal the sorted ones (robustDomain) on large, tied and skewed data', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const cases: Float32Array[] = [
    Float32Array.from({ length: 250_000 }, () => (rnd() - 0.5) * 10),
    Float32Array.from({ length: 150_000 }, () => Math.round(rnd() * 3)), // heavy ties
    Float32Array.from({ length: 200_000 }, () => (rnd() < 0.999 ? rnd() * 1e-3 : 1e6 * rnd())), // one bin holds almost all
    Float32Array.from([3, 1, 2]),
  ];
  for (const v of cases) {
    const st = domainStats(v);
    for (const [pl, ph] of [[1, 99], [5, 95], [0.1, 99.9], [0, 100]]) for (const signed of [true, false]) {
      const a = domainFromStats(st, { signed, pLow: pl, pHigh: ph });
      const b = robustDomain(v, { signed, pLow: pl, pHigh: ph });
      assert.deepEqual(a, b, `n=${v.length} p${pl}-p${ph} signed=${signed}`);
    }
  }
  assert.equal(domainStats(new Float32Array(0)).count, 0);
});

test('overview: per-sample numbers and arrays-with-data equal the whole-step statistics; no token texts shipped', () => {
  for (const run of [grpo, ppo, dpo]) {
    const step = listRolloutSteps(run)[0];
    const whole = readRolloutStep(run, step);
    const ov = new StepSource(run, step).overview({ strips: true });
    const fromOv = sampleStatsFrom(ov.header, ov.samples, ov.numbers.map(([advantage, kl, clipLow, clipHigh, clipDual]) => ({ advantage, kl, clipLow, clipHigh, clipDual })));
    assert.deepEqual(fromOv.map((s) => ({ ...s, prompt: '', completion: '' })), sampleStats(whole).map((s) => ({ ...s, prompt: '', completion: '' })), run);
    assert.deepEqual(metricsFor(ov.withData).map((m) => m.id), availableMetrics(whole).map((m) => m.id));
    assert.ok(ov.samples.every((s) => s.tokens.length === 0) && ov.samples.some((s) => s.length > 0));
    // strips: min/max/mean of sample 0's first array
    const a = sampleArray(whole, 0, whole.header.arrays[0])!;
    const strips = new Float32Array(ov.strips as ArrayBuffer);
    const fin = [...a].filter(Number.isFinite);
    assert.equal(strips[0], Math.min(...fin)); assert.equal(strips[1], Math.max(...fin));
    assert.ok(Math.abs(strips[2] - fin.reduce((x, y) => x + y, 0) / fin.length) < 1e-5);
  }
});

test('window: the requested (sample, block) cells carry exactly the stored values and token texts, and only they are read', () => {
  const step = listRolloutSteps(grpo)[0];
  const whole = readRolloutStep(grpo, step);
  const src = new StepSource(grpo, step);
  const long = whole.samples.findIndex((s) => s.length > BLOCK_TOKENS);
  assert.ok(long >= 0, 'fixture has a sample longer than one block');
  const cells: [number, number][] = [[0, 0], [long, 1], [3, 0]];
  const before = src.floatsRead;
  const w = src.window(cells);
  const data = new Float32Array(w.data as ArrayBuffer);
  const A = whole.header.arrays.length;
  let at = 0, expectFloats = 0;
  cells.forEach(([i, b], k) => {
    const s = whole.samples[i], t0 = b * BLOCK_TOKENS, n = Math.min(s.length, t0 + BLOCK_TOKENS) - t0;
    assert.deepEqual(w.tokens[k], s.tokens.slice(t0, t0 + n));
    whole.header.arrays.forEach((name) => {
      const want = sampleArray(whole, i, name)!.subarray(t0, t0 + n);
      assert.deepEqual([...data.subarray(at, at + n)], [...want], `sample ${i} block ${b} ${name}`);
      at += n;
    });
    expectFloats += A * n;
  });
  assert.equal(at, data.length);
  assert.equal(src.floatsRead - before, expectFloats, 'reads only the ranges it returns');
  assert.ok(expectFloats < whole.data.length / 2);
  assert.throws(() => src.window([[999, 0]]), /bad window cell/);
});

test('domain (once per step and metric, or per group) equals robustDomain over all valid tokens of the step', () => {
  const step = listRolloutSteps(grpo)[0];
  const whole = readRolloutStep(grpo, step);
  const src = stepSource(grpo, step);
  const all = whole.samples.map((_, i) => i);
  for (const metric of ['advantage', 'entropy', 'logprob_minus_ref']) {
    const d = src.domain(metric);
    assert.equal(src.domain(metric), d, 'cached');
    const signed = metric !== 'entropy';
    assert.deepEqual(domainFromStats(d, { signed, pLow: 1, pHigh: 99 }), robustDomain(metricValuesOver(whole, all, metric), { signed, pLow: 1, pHigh: 99 }), metric);
  }
  const g = whole.header.groups[1].id;
  const members = whole.samples.map((s, i) => (s.group === g ? i : -1)).filter((i) => i >= 0);
  assert.deepEqual(domainFromStats(src.domain('kl', g), { signed: true, pLow: 5, pHigh: 95 }), robustDomain(metricValuesOver(whole, members, 'kl'), { signed: true, pLow: 5, pHigh: 95 }));
  assert.throws(() => src.domain('nope'), /unknown metric/);
});

test('search and drill-down on the host equal the whole-step functions (GRPO, PPO whitening over the step, DPO pair)', () => {
  for (const run of [grpo, ppo, dpo]) {
    const step = listRolloutSteps(run)[0];
    const whole = readRolloutStep(run, step);
    const src = new StepSource(run, step);
    const q = whole.samples[1].tokens.slice(1, 3).join('').slice(0, 3) || 'a';
    const r = src.search(q);
    const want = searchTokens(whole, whole.samples.map((_, i) => i), q).flatMap((h) => [h.sample, h.token]);
    assert.deepEqual(r.hits, want, `${run} search ${q}`);
    assert.ok(want.length > 0);
    for (const [i, t] of [[1, 2], [whole.samples.length - 1, 0]]) assert.deepEqual(src.drill(i, t), drillDown(whole, i, t), `${run} drill ${i}:${t}`);
  }
});

test('request handlers: overview / window / domain go through the run check', async () => {
  const step = listRolloutSteps(grpo)[0];
  const h = webviewRequestHandlers({ allowedRun: async (d: string) => { if (path.resolve(d) !== path.resolve(grpo)) throw new Error('not allowed'); return path.resolve(d); } } as unknown as RequestContext);
  const ov = await h['rollout/overview']({ runDir: grpo, step });
  assert.equal(ov.samples.length, readRolloutStep(grpo, step).samples.length);
  await assert.rejects(() => Promise.resolve(h['rollout/window']({ runDir: ppo, step, cells: [[0, 0]] })), /not allowed/);
});

test('page cache: one request for the missing cells, hits after, LRU eviction past the budget that spares the view', async () => {
  const arrays = ['advantage', 'mask'];
  const lengths = [600, 600, 600, 600];
  const requests: [number, number][][] = [];
  let arrived = 0;
  const fetch = async (cells: [number, number][]) => {
    requests.push(cells);
    const parts: number[] = [];
    const tokens: string[][] = [];
    for (const [s, b] of cells) {
      const t0 = b * 256, n = Math.min(600, t0 + 256) - t0;
      for (const a of [0, 1]) for (let t = 0; t < n; t++) parts.push(a === 0 ? s * 1000 + t0 + t : 1);
      tokens.push(Array.from({ length: n }, (_, t) => `t${t0 + t}`));
    }
    return { data: Float32Array.from(parts).buffer, tokens };
  };
  const budget = 3 * (2 * 256 * 4 + 64 * 256); // about three full blocks
  const w = new StepWindows(arrays, 256, (i) => lengths[i], fetch, () => arrived++, budget);
  assert.deepEqual(w.blocksOf(0, 250, 300), [0, 1]);
  assert.deepEqual(w.blocksOf(0, 0, 10_000), [0, 1, 2]);
  w.setVisible([[0, 0], [0, 2]]);
  await Promise.all([w.want([[0, 0], [0, 2]]), w.want([[0, 0]])]);
  assert.equal(requests.length, 1, 'a cell on its way is not asked for twice');
  const b = w.at(0, 520)!;
  assert.equal(b.t0, 512); assert.equal(b.n, 88);
  assert.equal(w.metric(b, 'advantage')[8], 520);
  assert.equal(b.tokens[8], 't520');
  await w.want([[1, 0], [2, 0], [3, 0]]);
  assert.ok(w.bytes <= budget || w.size === 2, `bytes ${w.bytes} ≤ budget ${budget}`);
  assert.ok(w.has(0, 0) && w.has(0, 2), 'the view is never evicted');
  assert.ok(w.stats.evicted > 0);
  assert.ok(!w.has(1, 0), 'least recently used went first');
  assert.ok(arrived >= 2);
  // a failing fetch is not retried on every redraw
  let fails = 0;
  const bad = new StepWindows(arrays, 256, () => 100, async () => { fails++; throw new Error('gone'); }, () => undefined);
  await bad.want([[0, 0]]);
  assert.equal(bad.lastError, 'gone');
  assert.deepEqual(bad.missing([[0, 0]]), []);
  await bad.want([[0, 0]]);
  assert.equal(fails, 1);
});

test('metricValues of a block equals the whole sample sliced (derived metric included)', async () => {
  const step = listRolloutSteps(grpo)[0];
  const whole = readRolloutStep(grpo, step);
  const src = new StepSource(grpo, step);
  const i = whole.samples.findIndex((s) => s.length > BLOCK_TOKENS);
  const w = new StepWindows(whole.header.arrays, BLOCK_TOKENS, (k) => whole.samples[k].length, async (cells) => src.window(cells), () => undefined);
  await w.want([[i, 1]]);
  const b = w.get(i, 1)!;
  assert.deepEqual([...w.metric(b, 'logprob_minus_ref')], [...metricValues(whole, i, 'logprob_minus_ref').subarray(BLOCK_TOKENS, BLOCK_TOKENS + b.n)]);
});

test('a text-only imported step is tokenized on the host (approximate) and served from memory like any other', async () => {
  const { writeRolloutStepFiles } = await import('../../src/runio/writer');
  const { getStep } = await import('../../src/host/ui/panels/dataProvider');
  const dir = makeRun({ dir: path.join(tmp, 'textonly'), algorithm: 'grpo', steps: 1, rolloutEvery: 1, groups: 2, groupSize: 2, seed: 24 });
  const st = readRolloutStep(dir, 1);
  // the same step as an importer of text-only logs writes it: no tokens, no per-token arrays
  fs.rmSync(path.join(dir, 'rollouts'), { recursive: true });
  writeRolloutStepFiles(path.join(dir, 'rollouts'), { ...st.header, arrays: [] }, st.samples.map((s) => ({ group: s.group, prompt: s.prompt, completion: s.completion, tokens: [], reward: s.reward, length: 0, advantage: 0.5 })), st.samples.map(() => ({})));
  const src = new StepSource(dir, 1);
  const ov = src.overview();
  assert.equal(ov.tokenization?.source, 'approximate');
  assert.deepEqual(ov.withData, ['advantage', 'sequence_reward']);
  const whole = getStep(dir, 1); // the old whole-step path tokenizes the same way
  const w = src.window([[1, 0]]);
  assert.deepEqual(w.tokens[0], whole.samples[1].tokens.slice(0, BLOCK_TOKENS));
  assert.ok(w.tokens[0].length > 0);
  assert.equal(src.floatsRead, 0, 'nothing read from a file: the tokenized step is in memory');
});

test('long texts: the overview cuts them (and says which), the host matches the text filter over the full texts', async () => {
  const { writeRolloutStepFiles } = await import('../../src/runio/writer');
  const { TEXT_CUT } = await import('../../src/host/ui/panels/stepSource');
  const { sampleMatches } = await import('../../src/webview/data/step');
  const dir = makeRun({ dir: path.join(tmp, 'longtext'), algorithm: 'grpo', steps: 1, rolloutEvery: 1, groups: 2, groupSize: 2, seed: 25 });
  const st = readRolloutStep(dir, 1);
  const tail = 'NEEDLE at the end';
  const samples = st.samples.map((s, i) => ({ group: s.group, prompt: s.prompt, completion: i === 2 ? 'x'.repeat(TEXT_CUT + 10) + tail : s.completion, tokens: s.tokens, reward: s.reward, length: s.length }));
  writeRolloutStepFiles(path.join(dir, 'rollouts'), { ...st.header, step: 2 }, samples, st.samples.map((_, i) => ({ logprob: sampleArray(st, i, 'logprob')! })));
  const src = new StepSource(dir, 2);
  const ov = src.overview();
  assert.deepEqual(ov.cut, [2]);
  assert.equal(ov.samples[2].completion.length, TEXT_CUT);
  assert.deepEqual(src.textMatch('needle').samples, [2]);
  // the page's own filter would miss it on the cut text: that is why it asks the host
  const stats = sampleStatsFrom(ov.header, ov.samples, ov.numbers.map(() => ({ advantage: NaN, kl: NaN, clipLow: 0, clipHigh: 0, clipDual: 0 })));
  assert.equal(sampleMatches(stats[2], { groups: 'all', text: 'needle' }), false);
});
