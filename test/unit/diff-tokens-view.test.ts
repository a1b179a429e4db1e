// The token comparison view's data (issue 21), hand-computed: metric values (Δ, Δ entropy, ratio on a log scale),
// colour domains (symmetric for signed metrics), the hover drill-down (top-k of A and B, the target marked), risers /
// fallers grouping by token string (min count, fallback, ties by count), the risers/fallers table's bars, the
// per-sample table's filter and sort (NaN last), paging; and the host side (src/host/tokenDiff/data.ts) on a real
// comparison folder: the overview carries no per-token data, a page holds exactly the named samples' floats.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  decodePage, diffDomain, diffMetric, groupTokenDeltas, metricDisplayValue, metricValue, pageDeltas, pageOf, sortFilterSamples, statTable, tokenDetail, type PageSample,
} from '../../src/webview/data/tokenDiff';
import type { TokenDiffSampleRow } from '../../src/shared/protocol';
import { TokenDiffData, MAX_PAGE_SAMPLES } from '../../src/host/tokenDiff/data';
import { tokenDiffArrays, tokenDiffStride } from '../../src/runio/tokenDiff';
import { initBackend } from '../../src/trainer/backend';
import { GPT } from '../../src/trainer/model/gpt';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { saveCheckpoint } from '../../src/trainer/checkpoint';
import { diffCheckpoints } from '../../src/trainer/diffTokens';

const f = (xs: number[]) => Float32Array.from(xs);

/** two tokens, k = 2 */
function sample(): PageSample {
  return {
    index: 7, length: 2, tokens: [' the', 'x'], tokenIds: [4, 9], prompt: 'p', completion: ' thex',
    arrays: {
      logprob_a: f([-2, -1]), logprob_b: f([-1, -3]), entropy_a: f([1.5, 0.5]), entropy_b: f([1, 1]), rank_a: f([3, 1]), rank_b: f([1, 2]), kl: f([0.25, 0.5]),
      top_a_id: f([1, 2, 9, 4]), top_a_logprob: f([-0.5, -1, -1, -2]), top_b_id: f([4, 1, 3, NaN]), top_b_logprob: f([-1, -2, -0.1, NaN]),
    },
  };
}

test('metric values: Δ = B − A, Δ entropy, ratio coloured by log ratio and shown as exp(Δ); missing arrays are NaN', () => {
  const s = sample();
  assert.equal(metricValue(s.arrays, 'delta', 0), 1);
  assert.equal(metricValue(s.arrays, 'delta', 1), -2);
  assert.equal(metricValue(s.arrays, 'dentropy', 0), -0.5);
  assert.equal(metricValue(s.arrays, 'logratio', 1), -2);
  assert.ok(Math.abs(metricDisplayValue(s.arrays, 'logratio', 1) - Math.exp(-2)) < 1e-12);
  assert.equal(metricValue(s.arrays, 'kl', 1), 0.5);
  assert.equal(metricValue(s.arrays, 'rank_b', 1), 2);
  assert.ok(Number.isNaN(metricValue({}, 'delta', 0)));
  assert.equal(diffMetric('nope').id, 'delta', 'unknown metric: Δ log-prob');
});

test('colour domains: signed metrics symmetric around 0 (max |value| at p0–p100), unsigned from min to max', () => {
  const s = sample();
  const d = diffDomain([s], 'delta', '0-100');
  assert.deepEqual([d.lo, d.hi, d.rawMin, d.rawMax], [-2, 2, -2, 1]);
  const k = diffDomain([s], 'kl', '0-100');
  assert.deepEqual([k.lo, k.hi], [0.25, 0.5]);
  // p1–p99 of [-2, 1]: −2 + 0.01·3 = −1.97 and −2 + 0.99·3 = 0.97 → symmetric ±1.97, clipped
  const r = diffDomain([s], 'delta');
  assert.ok(Math.abs(r.hi - 1.97) < 1e-9 && Math.abs(r.lo + 1.97) < 1e-9 && r.clipped);
});

test('hover drill-down: both log-probs, Δ, ratio, ranks, entropies, KL; top-k under A and B with display strings, the target marked, NaN slots dropped', () => {
  const d = tokenDetail(sample(), 1, { 1: '<s>', 2: 'a', 9: 'x', 4: ' the', 3: 'y' });
  assert.equal(d.text, 'x'); assert.equal(d.id, 9); assert.equal(d.sample, 7);
  assert.deepEqual([d.logprobA, d.logprobB, d.delta, d.rankA, d.rankB, d.entropyA, d.entropyB, d.kl], [-1, -3, -2, 1, 2, 0.5, 1, 0.5]);
  assert.ok(Math.abs(d.ratio - Math.exp(-2)) < 1e-12);
  assert.deepEqual(d.topA.map((x) => [x.token, x.logprob, x.isTarget]), [['x', -1, true], [' the', -2, false]]);
  assert.deepEqual(d.topB.map((x) => [x.token, x.logprob, x.isTarget]), [['y', -0.10000000149011612, false]]);
  assert.ok(Math.abs(d.topA[0].prob - Math.exp(-1)) < 1e-7);
  assert.equal(tokenDetail(sample(), 0, {}).topA[0].token, '#1', 'an id without a display string shows as #id');
});

test('risers and fallers grouped by token string: mean Δ, count, Σ Δ; min count with a fallback to 1; ties by count', () => {
  const samples = [
    { tokens: ['a', 'b', 'a', 'c'], delta: [1, -1, 3, 0.5] },
    { tokens: ['a', 'b', 'd', 'd'], delta: [2, -3, -0.5, -0.5] },
    { tokens: ['e'], delta: [NaN] },
  ];
  const g = groupTokenDeltas(samples, { minCount: 2 });
  // a: 1+3+2 = 6 over 3 → 2; b: −4 over 2 → −2; d: −1 over 2 → −0.5; c seen once: left out
  assert.deepEqual(g.risers, [{ token: 'a', count: 3, meanDelta: 2, sumDelta: 6 }]);
  assert.deepEqual(g.fallers, [{ token: 'b', count: 2, meanDelta: -2, sumDelta: -4 }, { token: 'd', count: 2, meanDelta: -0.5, sumDelta: -1 }]);
  assert.equal(g.minCount, 2);
  const all = groupTokenDeltas(samples, { minCount: 5 });
  assert.equal(all.minCount, 1, 'no token seen 5 times: every token counts');
  assert.deepEqual(all.risers.map((r) => r.token), ['a', 'c']);
  const ties = groupTokenDeltas([{ tokens: ['x', 'y', 'y'], delta: [1, 1, 1] }], { minCount: 1 });
  assert.deepEqual(ties.risers.map((r) => r.token), ['y', 'x'], 'equal mean: the more frequent first');
  assert.equal(groupTokenDeltas(samples, { minCount: 1, top: 1 }).fallers.length, 1);
  // the page's rows: Δ per token of the decoded samples
  const pd = pageDeltas([sample()]);
  assert.deepEqual(pd[0].tokens, [' the', 'x']); assert.deepEqual(Array.from(pd[0].delta), [1, -2]);
  assert.deepEqual(groupTokenDeltas(pd, { minCount: 1 }).risers, [{ token: ' the', count: 1, meanDelta: 1, sumDelta: 1 }]);
});

test('risers / fallers table: risers then fallers, bars relative to the largest |mean Δ|', () => {
  const rows = statTable([{ token: 'a', count: 3, meanDelta: 2, sumDelta: 6 }], [{ token: 'b', count: 2, meanDelta: -4, sumDelta: -8 }, { token: 'd', count: 2, meanDelta: -1, sumDelta: -2 }]);
  assert.deepEqual(rows.map((r) => [r.kind, r.token, r.bar]), [['riser', 'a', 0.5], ['faller', 'b', 1], ['faller', 'd', 0.25]]);
  assert.deepEqual(statTable([], []), []);
});

test('per-sample table: text filter (prompt or completion, case-insensitive), sign of Σ Δ, sort by any key with NaN last and ties by index; paging', () => {
  const rows: TokenDiffSampleRow[] = [
    { index: 0, length: 4, sumDelta: 2, meanKl: 0.1, reward: 1, prompt: 'Once', completion: 'upon a time' },
    { index: 1, length: 2, sumDelta: -1, meanKl: 0.3, reward: null, prompt: 'Tom', completion: 'ran' },
    { index: 2, length: 1, sumDelta: 2, meanKl: 0.2, reward: 0, prompt: 'Lily', completion: 'TIME' },
  ];
  assert.deepEqual(sortFilterSamples(rows, { key: 'index', descending: false }), [0, 1, 2]);
  assert.deepEqual(sortFilterSamples(rows, { key: 'sumDelta', descending: true }), [0, 2, 1], 'ties by index');
  assert.deepEqual(sortFilterSamples(rows, { key: 'meanDelta', descending: true }), [2, 0, 1], 'mean Δ = Σ Δ / length: 2, 0.5, −0.5');
  assert.deepEqual(sortFilterSamples(rows, { key: 'meanKl', descending: false }), [0, 2, 1]);
  assert.deepEqual(sortFilterSamples(rows, { key: 'reward', descending: true }), [0, 2, 1], 'no reward: last');
  assert.deepEqual(sortFilterSamples(rows, { key: 'reward', descending: false }), [2, 0, 1], 'no reward: last either way');
  assert.deepEqual(sortFilterSamples(rows, { key: 'index', descending: false }, { text: 'time' }), [0, 2]);
  assert.deepEqual(sortFilterSamples(rows, { key: 'index', descending: false }, { text: 'tom' }), [1]);
  assert.deepEqual(sortFilterSamples(rows, { key: 'index', descending: false }, { sign: 'neg' }), [1]);
  assert.deepEqual(sortFilterSamples(rows, { key: 'length', descending: false }, { sign: 'pos' }), [2, 0]);
  assert.deepEqual(pageOf([1, 2, 3, 4, 5], 1, 2), { items: [3, 4], page: 1, pages: 3 });
  assert.deepEqual(pageOf([1, 2, 3], 9, 2), { items: [3], page: 1, pages: 2 }, 'past the end: the last page');
  assert.deepEqual(pageOf([], -1, 2), { items: [], page: 0, pages: 1 });
});

test('host data: the overview has one short row per completion and no floats; a page carries exactly the named samples, decodable by the view', async () => {
  await initBackend('wasm');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-tdview-'));
  const ck = (d: string, seed: number, step: number) => {
    const tok = new CharTokenizer('abc +=0123456789');
    const m = GPT.create({ vocabSize: tok.vocab.length, contextLength: 24, dModel: 16, nHeads: 2, nLayers: 1, mlpRatio: 2 }, seed);
    saveCheckpoint(d, m, { step, algorithm: 'grpo', time: new Date().toISOString(), config: {}, tokenizer: tok.spec() });
    m.dispose();
    return d;
  };
  const a = ck(path.join(root, 'run', 'checkpoints', 'step_00000001'), 1, 1), b = ck(path.join(root, 'run', 'checkpoints', 'step_00000002'), 2, 2);
  const jsonl = path.join(root, 'c.jsonl');
  fs.writeFileSync(jsonl, ['{"prompt":"1+2=","completion":"3"}', '{"prompt":"12+30=","completion":"42"}', `{"prompt":"a b","completion":"${'cab ba abc '.repeat(40)}"}`].join('\n'));
  const r = await diffCheckpoints(a, b, jsonl, { minCount: 1 });
  const data = new TokenDiffData(r.dir);
  const o = data.overview();
  assert.equal(o.samples.length, 3);
  assert.equal(o.samples[2].completion.length, 200, 'long completions are cut to 200 characters in the overview');
  assert.equal(o.a.kind, 'checkpoint'); assert.equal(o.a.step, 1); assert.equal(o.b.step, 2);
  assert.equal(o.title, 'What changed, token by token: step 1 → step 2');
  assert.equal(o.dir, path.resolve(r.dir), 'the folder, for the view\'s saved state (restore after a reload)');
  assert.equal(o.a.label, 'step_00000001 (step 1, run)');
  assert.ok(!JSON.stringify(o).includes('logprob_a":['), 'no per-token arrays in the overview');
  assert.deepEqual(o.arrays, tokenDiffArrays(5));
  const page = data.page([2, 0]);
  const stride = tokenDiffStride(r.summary);
  const floats = (page.data as ArrayBuffer).byteLength / 4;
  assert.equal(floats, stride * (r.summary.samples[2].length + r.summary.samples[0].length), 'only the two samples');
  const dec = decodePage(page, o.arrays);
  assert.deepEqual(dec.map((s) => s.index), [2, 0]);
  assert.equal(dec[1].tokens.join(''), '3');
  // the same numbers as the summary: Σ Δ of sample 2 from its decoded floats
  let sd = 0;
  for (let t = 0; t < dec[0].length; t++) sd += metricValue(dec[0].arrays, 'delta', t);
  assert.ok(Math.abs(sd - r.summary.samples[2].sumDelta) < 1e-4, `${sd} vs ${r.summary.samples[2].sumDelta}`);
  // the top-k ids of the page have display strings
  for (const s of dec) for (const v of s.arrays.top_b_id) assert.ok(page.vocab[String(v)] !== undefined, `id ${v} in vocab`);
  // summary.json's risers / fallers are the shared rule over every completion (the view's 'this page' uses the same)
  const every = decodePage(data.page(r.summary.samples.map((x) => x.index)), o.arrays);
  const again = groupTokenDeltas(pageDeltas(every), { minCount: 1 });
  assert.deepEqual(again.risers.map((x) => [x.token, x.count]), r.summary.risers.map((x) => [x.token, x.count]));
  assert.deepEqual(again.fallers.map((x) => [x.token, x.count]), r.summary.fallers.map((x) => [x.token, x.count]));
  for (const [i, x] of again.risers.entries()) assert.ok(Math.abs(x.meanDelta - r.summary.risers[i].meanDelta) < 1e-6);
  assert.throws(() => data.page([99]), /no sample 99/);
  assert.throws(() => data.page(Array.from({ length: MAX_PAGE_SAMPLES + 1 }, (_, i) => i)), /at most/);
  assert.throws(() => data.page('1'), /array of at most/);
});
