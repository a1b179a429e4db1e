// Incremental per-pixel downsampling of dashboard series (issue 18, src/webview/data/series.ts SeriesIndex,
// IncrementalEma): the same extents and spikes as a full scan, built incrementally (an append touches only the last
// block of each level), and drawing at most a few points per pixel whatever the series length.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Column, SeriesIndex, IncrementalEma, emaSmooth, indexRange, yExtent } from '../../src/webview/data/series';

function series(n: number, seed = 1): Float64Array {
  let s = seed;
  const r = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  return Float64Array.from({ length: n }, (_, i) => (i % 977 === 5 ? NaN : Math.sin(i / 300) + 0.1 * r() + (i === 54_321 ? 40 : 0)));
}

function brute(v: ArrayLike<number>, i0: number, i1: number): [number, number] {
  let lo = Infinity, hi = -Infinity;
  for (let i = i0; i <= i1; i++) if (Number.isFinite(v[i])) { lo = Math.min(lo, v[i]); hi = Math.max(hi, v[i]); }
  return [lo, hi];
}

test('extent over any index range equals a full scan; built in one go or point by point, the same', () => {
  const v = series(70_000);
  const a = new SeriesIndex(); a.update(v);
  const b = new SeriesIndex();
  const col = new Column();
  for (let i = 0; i < v.length; i++) { col.push(v[i]); if (i % 997 === 0 || i === v.length - 1) b.update(col.view()); }
  for (const [i0, i1] of [[0, 69_999], [1, 2], [123, 45_678], [54_320, 54_322], [65_535, 65_537], [69_990, 69_999], [7, 7]]) {
    assert.deepEqual(a.extent(v, i0, i1), brute(v, i0, i1), `${i0}..${i1}`);
    assert.deepEqual(b.extent(v, i0, i1), brute(v, i0, i1), `incremental ${i0}..${i1}`);
  }
  assert.deepEqual(a.decimate(0, 69_999, 800), b.decimate(0, 69_999, 800));
});

test('decimate keeps the spike and every block extreme, with a few points per pixel; few points are all kept', () => {
  const v = series(100_000);
  const ix = new SeriesIndex(); ix.update(v);
  const px = 1000;
  const idx = ix.decimate(0, 99_999, px);
  assert.ok(idx.length <= 8 * px + 2, `${idx.length} points for ${px} px`);
  assert.ok(idx.includes(54_321), 'the spike survives');
  assert.ok(idx.every((x, k) => k === 0 || x > idx[k - 1]), 'ascending, unique');
  assert.equal(idx[0], 0); assert.equal(idx.at(-1), 99_999);
  // every pixel's min and max are among the drawn values
  const drawn = idx.map((i) => v[i]).filter(Number.isFinite);
  assert.equal(Math.max(...drawn), brute(v, 0, 99_999)[1]);
  assert.equal(Math.min(...drawn), brute(v, 0, 99_999)[0]);
  assert.deepEqual(ix.decimate(10, 30, 800), Array.from({ length: 21 }, (_, k) => 10 + k));
  const last = ix.decimateLast(0, 99_999, px);
  assert.ok(last.length <= 2 * px + 2 && last[0] === 0 && last.at(-1) === 99_999);
  const env = ix.envelope(Float64Array.from({ length: v.length }, (_, i) => i), v, 0, 99_999, px);
  assert.ok(env.x.length <= 2 * px + 2);
  assert.equal(Math.max(...env.hi), brute(v, 0, 99_999)[1]);
});

test('yExtent from the index equals the full scan within the x range; an append touches only the last blocks', () => {
  const v = series(30_000, 3);
  const xs = Float64Array.from({ length: v.length }, (_, i) => 10 + 2 * i);
  const ix = new SeriesIndex(); ix.update(v);
  const [i0, i1] = indexRange(xs, 1000, 40_000);
  const [lo, hi] = ix.extent(v, Math.max(i0, 0), i1);
  // yExtent pads 5 %; compare its unpadded core: points strictly inside [x0, x1]
  const want = yExtent([{ steps: xs, values: v }], xs[i0], xs[i1]);
  const pad = (hi - lo) * 0.05;
  assert.ok(Math.abs(want[0] - (lo - pad)) < 1e-12 && Math.abs(want[1] - (hi + pad)) < 1e-12, `${want} vs ${lo},${hi}`);
  // appending a new maximum changes the extent without a rebuild (same object, n grows by one)
  const col = new Column(); for (const x of v) col.push(x);
  col.push(99);
  ix.update(col.view());
  assert.equal(ix.n, 30_001);
  assert.deepEqual(ix.extent(col.view(), 0, 30_000), [brute(v, 0, 29_999)[0], 99]);
});

test('incremental EMA equals emaSmooth, extended point by point', () => {
  const v = series(5000, 4);
  const e = new IncrementalEma(0.9);
  const col = new Column();
  let out: ArrayLike<number> = new Float64Array(0);
  for (let i = 0; i < v.length; i++) { col.push(v[i]); if (i % 333 === 0 || i === v.length - 1) out = e.update(col.view()); }
  const want = emaSmooth(v, 0.9);
  assert.equal(out.length, want.length);
  for (let i = 0; i < want.length; i++) assert.ok(Object.is(out[i], want[i]) || Math.abs(out[i] - want[i]) < 1e-12, `i=${i}`);
});

test('store as columns (metrics/columns): the same series, clock and counts after the round trip; shared steps sent once', async () => {
  const { SeriesStore } = await import('../../src/webview/data/series');
  const st = new SeriesStore();
  const recs = Array.from({ length: 500 }, (_, i) => ({ step: i + 1, time: i * 2, values: { a: Math.sin(i), b: i, d: i % 7 === 0 ? NaN : i, ...(i % 2 ? { c: i / 3 } : {}) } }));
  st.appendMetrics(recs as never);
  st.appendEvals([{ step: 10, passAtK: { '1': 0.5 } }, { step: 20, passAtK: { '1': 0.6 }, meanReward: 0.1 }] as never);
  const c = st.toColumns();
  assert.ok(c.steps.length < c.values.length, 'a and b share their steps');
  const back = SeriesStore.fromColumns(JSON.parse(JSON.stringify({ ...c, steps: [...c.steps], values: [...c.values], clock: [...c.clock] }), (k, v) => (['steps', 'values', 'clock'].includes(k) && Array.isArray(v) ? Float64Array.from(v) : v)));
  assert.deepEqual([...back.series.keys()], [...st.series.keys()]);
  for (const [n, s] of st.series) {
    assert.deepEqual([...back.series.get(n)!.steps.view()], [...s.steps.view()], n);
    assert.deepEqual([...back.series.get(n)!.values.view()], [...s.values.view()], n);
  }
  assert.deepEqual([back.minStep, back.maxStep, back.appended], [st.minStep, st.maxStep, st.appended]);
  assert.deepEqual([...back.clock.times.view()], [...st.clock.times.view()]);
  back.appendMetrics([{ step: 501, values: { a: 1 } }] as never);
  assert.equal(back.series.get('a')!.steps.length, 501);
  assert.equal(back.series.get('b')!.steps.length, 500, 'a shared steps column is not shared in memory');
});

// The reference rule, written here from the doc comment (not from the code): at level k = the smallest k with
// 2^k ≥ points / pixels, the aligned blocks [b·2^k, (b+1)·2^k − 1] clipped to [i0, i1]; a whole block gives its first,
// its first minimum, its first maximum and its last index (finite values only); a clipped block its first and last.
function refDecimate(v: ArrayLike<number>, i0: number, i1: number, pixels: number): number[] {
  let k = 0;
  const top = Math.max(1, Math.ceil(Math.log2(Math.max(2, v.length))));
  while (k < top && 2 ** k < (i1 - i0 + 1) / pixels) k++;
  if (k === 0) return Array.from({ length: i1 - i0 + 1 }, (_, j) => i0 + j);
  const out = new Set<number>(), size = 2 ** k;
  for (let b = Math.floor(i0 / size); b <= Math.floor(i1 / size); b++) {
    const first = Math.max(i0, b * size), last = Math.min(i1, (b + 1) * size - 1);
    out.add(first); out.add(last);
    if (first === b * size && last === (b + 1) * size - 1) {
      let mi = -1, ma = -1;
      for (let i = first; i <= last; i++) if (Number.isFinite(v[i])) { if (mi < 0 || v[i] < v[mi]) mi = i; if (ma < 0 || v[i] > v[ma]) ma = i; }
      if (mi >= 0) { out.add(mi); out.add(ma); }
    }
  }
  return [...out].sort((a, b) => a - b);
}

test('levels built on demand (a whole level, or only the blocks of a zoomed-in view) give the reference blocks; ±Infinity and NaN skipped; the smallest positive value', () => {
  const v = series(100_000, 7);
  v[300] = Infinity; v[301] = -Infinity; v[40_000] = -5; v[40_001] = 1e-9; v[77_777] = Infinity;
  for (let i = 90_000; i < 90_100; i++) { v[i] = 50; v[i - 30_000] = -50; } // equal extremes: the first is kept
  const cases: [number, number, number][] = [[0, 99_999, 800], [20_000, 30_000, 800], [39_990, 40_010, 3], [299, 302, 1], [0, 99_999, 333], [89_000, 91_000, 17], [59_000, 61_000, 5], [256, 511, 2], [99_000, 99_999, 4096]];
  // a fresh index per case (only the blocks in view, never a whole level) and one index for all (levels kept)
  const kept = new SeriesIndex(); kept.update(v);
  for (const [i0, i1, px] of cases) {
    const fresh = new SeriesIndex(); fresh.update(v);
    const want = refDecimate(v, i0, i1, px);
    assert.deepEqual(fresh.decimate(i0, i1, px), want, `fresh ${i0}..${i1} @${px}`);
    assert.deepEqual(kept.decimate(i0, i1, px), want, `kept ${i0}..${i1} @${px}`);
    const [lo, hi] = brute(v, i0, i1);
    let pl = Infinity;
    for (let i = i0; i <= i1; i++) if (Number.isFinite(v[i]) && v[i] > 0 && v[i] < pl) pl = v[i];
    const fresh2 = new SeriesIndex(); fresh2.update(v);
    assert.deepEqual(fresh2.extents(v, i0, i1), [lo, hi, pl], `extents ${i0}..${i1}`);
    assert.deepEqual(kept.extents(v, i0, i1), [lo, hi, pl], `kept extents ${i0}..${i1}`);
  }
  // points appended after levels were built update them (few) or drop them (many): still the reference
  const col = new Column(); for (const x of v) col.push(x);
  for (let i = 0; i < 300; i++) col.push(i === 150 ? 1e6 : Math.cos(i));
  kept.update(col.view());
  assert.deepEqual(kept.decimate(0, col.length - 1, 800), refDecimate(col.view(), 0, col.length - 1, 800));
  for (let i = 0; i < 10_000; i++) col.push(Math.sin(i / 7));
  kept.update(col.view());
  assert.deepEqual(kept.decimate(50_000, col.length - 1, 640), refDecimate(col.view(), 50_000, col.length - 1, 640));
});
