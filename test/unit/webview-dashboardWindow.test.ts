// The dashboard's per-pixel windows (issue 18, src/webview/data/dashboardWindow.ts, src/host/ui/panels/metricsWindow.ts):
// what a chart draws of a series (buckets keep first / min / max / last, so spikes survive), its extents, the binary
// packing, the host's window of a run with many points (the same views the page computes from every point), live
// appends and the sliced first read. Hand-computed expected values are written out; exact equality unless stated.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { logExtentOf, packViews, seriesView, unpackViews, type SeriesView } from '../../src/webview/data/dashboardWindow';
import { SeriesIndex, SeriesStore, emaSmooth } from '../../src/webview/data/series';
import { seriesX } from '../../src/webview/data/dashboardAxis';
import { RunFollower, metricsColumns } from '../../src/host/ui/panels/dataProvider';
import { makeRun } from '../fixtures/makeRun';

const arr = (a: ArrayLike<number>) => Array.from(a);

test('seriesView: a spike and a dip survive 16 points on 2 pixels; extents over the points inside [x0, x1]', () => {
  const xs = Array.from({ length: 16 }, (_, i) => i + 1);
  const raw = xs.map(() => 0.5); raw[3] = -2; raw[10] = 9;
  const ds = new SeriesIndex(); ds.update(raw);
  // blocks of 8 points (16 / 2 pixels): [0..7] keeps first 0, min 3, last 7; [8..15] keeps first 8, max 10, last 15
  const v = seriesView(xs, xs, raw, undefined, ds, 1, 16, 2);
  assert.deepEqual(arr(v.x), [1, 4, 8, 9, 11, 16]);
  assert.deepEqual(arr(v.y), [0.5, -2, 0.5, 0.5, 9, 0.5]);
  assert.deepEqual([v.lo, v.hi, v.posLo, v.posHi, v.n, v.lastStep], [-2, 9, 0.5, 9, 16, 16]);
  assert.equal(v.envX.length, 0, 'no band without smoothing');
  // x in [5, 9]: points 5..9 (indices 4..8), all 0.5: the spike at x = 11 and the dip at x = 4 are outside
  const w = seriesView(xs, xs, raw, undefined, ds, 5, 9, 100);
  assert.deepEqual([w.lo, w.hi, w.posLo, w.posHi], [0.5, 0.5, 0.5, 0.5]);
  // few points: all of them, from the one before x0 (x = 4) to the first at or past x1 (x = 9 itself)
  assert.deepEqual(arr(w.x), [4, 5, 6, 7, 8, 9]);
  assert.deepEqual(arr(seriesView(xs, xs, raw, undefined, ds, 5, 8.5, 100).x), [4, 5, 6, 7, 8, 9], 'x1 between points: one past it');
  // nothing positive in view: no log extent
  const neg = xs.map(() => -1);
  const dn = new SeriesIndex(); dn.update(neg);
  const u = seriesView(xs, xs, neg, undefined, dn, 1, 16, 4);
  assert.deepEqual([u.posLo, u.posHi], [Infinity, -Infinity]);
});

test('seriesView with smoothing: the smoothed line, the raw band and the EMA state (w = 0.5 over 1, 3 → 1, 2.333…)', () => {
  const xs = [1, 2], raw = [1, 3];
  const ds = new SeriesIndex(); ds.update(raw);
  // s1 = 0.5·1 = 0.5 → 0.5 / (1 − 0.5) = 1;  s2 = 0.5·0.5 + 0.5·3 = 1.75 → 1.75 / (1 − 0.25) = 2.3333…
  const sm = { values: [1, 1.75 / 0.75], last: 1.75, count: 2 };
  const v = seriesView(xs, xs, raw, sm, ds, 1, 2, 100);
  assert.deepEqual(arr(v.x), [1, 2]);
  assert.ok(Math.abs(v.y[1] - 2.3333333333333335) < 1e-12);
  assert.deepEqual([arr(v.envX), arr(v.envLo), arr(v.envHi)], [[1, 2], [1, 3], [1, 3]]);
  assert.deepEqual([v.emaLast, v.emaCount], [1.75, 2]);
  assert.ok(Math.abs(emaSmooth(raw, 0.5)[1] - v.y[1]) < 1e-12, 'emaSmooth agrees');
});

test('log extent: ×1.1 padding, one value → [v/2, 2v], nothing positive → undefined', () => {
  assert.deepEqual(logExtentOf(1, 10), [1 / 1.1, 11]);
  assert.deepEqual(logExtentOf(4, 4), [2, 8]);
  assert.equal(logExtentOf(Infinity, -Infinity), undefined);
});

test('packViews / unpackViews: counts, values, Infinity and NaN survive', () => {
  const a: SeriesView = { x: [1, 2], y: [3, 4], envX: [], envLo: [], envHi: [], lo: Infinity, hi: -Infinity, posLo: Infinity, posHi: -Infinity, n: 2, lastStep: 2, emaLast: 0, emaCount: 0 };
  const b: SeriesView = { x: [5], y: [NaN], envX: [5, 6], envLo: [-1, -2], envHi: [1, 2], lo: -2, hi: 2, posLo: 1, posHi: 2, n: 7, lastStep: 9, emaLast: 0.25, emaCount: 7 };
  const data = packViews([a, b]);
  assert.equal(data.length, 20 + 4 + 2 + 6);
  const [ua, ub] = unpackViews(data, 2);
  assert.deepEqual([arr(ua.x), arr(ua.y), ua.lo, ua.hi, ua.n], [[1, 2], [3, 4], Infinity, -Infinity, 2]);
  assert.deepEqual([arr(ub.x), Number.isNaN(ub.y[0]), arr(ub.envX), arr(ub.envLo), arr(ub.envHi), ub.posLo, ub.lastStep, ub.emaLast, ub.emaCount], [[5], true, [5, 6], [-1, -2], [1, 2], 1, 9, 0.25, 7]);
});

/** Views of every series computed from all points (what the page draws for a small run), independently of the host. */
function pageViews(store: SeriesStore, x0: number, x1: number, px: number, w: number, mode: 'step' | 'relative', startSec?: number): Map<string, SeriesView> {
  const out = new Map<string, SeriesView>();
  const clock = { steps: store.clock.steps.view(), times: store.clock.times.view() };
  for (const s of store.series.values()) {
    const ds = new SeriesIndex(); ds.update(s.values.view());
    const xs = mode === 'step' ? s.steps.view() : seriesX(mode, s.steps.view(), clock, startSec);
    let sm;
    // drawn raw whatever the slider (docs/views.md "Dashboard"): eval series, and integer series with ≤ 16 levels
    const vals = arr(s.values.view());
    const raw = s.name.startsWith('eval/') || (vals.every((v) => Number.isInteger(v)) && new Set(vals).size <= 16);
    if (w > 0 && !raw) {
      const values = emaSmooth(s.values.view(), w);
      let last = 0, count = 0;
      for (const v of s.values.view()) { last = last * w + (1 - w) * v; count++; }
      sm = { values, last, count };
    }
    out.set(s.name, seriesView(xs, s.steps.view(), s.values.view(), sm, ds, x0, x1, px));
  }
  return out;
}

function hostViews(f: RunFollower, p: Parameters<ReturnType<RunFollower['metricsSource']>['window']>[1]): Map<string, SeriesView> {
  const w = f.metricsSource().window('run', p);
  const views = unpackViews(new Float64Array(w.data as ArrayBuffer), w.names.length);
  return new Map(w.names.map((n, k) => [n, views[k]]));
}

function sameViews(a: Map<string, SeriesView>, b: Map<string, SeriesView>, tol: number, what: string): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), `${what}: series`);
  for (const [n, va] of a) {
    const vb = b.get(n)!;
    for (const k of ['x', 'y', 'envX', 'envLo', 'envHi'] as const) {
      assert.equal(va[k].length, vb[k].length, `${what} ${n}.${k} length`);
      for (let i = 0; i < va[k].length; i++) assert.ok(Math.abs(va[k][i] - vb[k][i]) <= tol || (Number.isNaN(va[k][i]) && Number.isNaN(vb[k][i])), `${what} ${n}.${k}[${i}] ${va[k][i]} vs ${vb[k][i]}`);
    }
    for (const k of ['lo', 'hi', 'posLo', 'posHi', 'n', 'lastStep'] as const) assert.equal(va[k], vb[k], `${what} ${n}.${k}`);
  }
}

test('host window of a bucketed run = the views the page computes from every point; live appends; sliced first read', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-dwin-'));
  try {
    const dir = makeRun({ dir: path.join(tmp, 'run'), algorithm: 'grpo', steps: 400, seed: 7, extraMetrics: 4, noRollouts: true, status: 'running' });
    const f = new RunFollower(dir);
    const first = f.initialColumns({ pixels: 60, smoothing: 0, xMode: 'step' }, 0);
    assert.ok(first.bucketed, 'bucketed above the threshold');
    assert.equal(new Float64Array(first.values as ArrayBuffer).length, 0, 'no points sent');
    const full: SeriesStore = SeriesStore.fromColumns((() => { const c = metricsColumns(new RunFollower(dir).initial()); const f64 = (b: ArrayBuffer | Float64Array) => new Float64Array(b as ArrayBuffer); return { ...c, steps: f64(c.steps), values: f64(c.values), clock: f64(c.clock) }; })());
    assert.deepEqual(first.names, [...full.series.keys()]);
    assert.deepEqual([first.bucketed!.minStep, first.bucketed!.maxStep], [full.minStep, full.maxStep]);
    const firstViews = unpackViews(new Float64Array(first.windowData as ArrayBuffer), first.bucketed!.window.names.length);
    sameViews(new Map(first.bucketed!.window.names.map((n, k) => [n, firstViews[k]])), pageViews(full, full.minStep, full.maxStep, 60, 0, 'step'), 0, 'first window');
    // spikes survive: per series the drawn min / max are the raw min / max over the view
    for (const s of full.series.values()) {
      const v: SeriesView = firstViews[first.bucketed!.window.names.indexOf(s.name)];
      const raw = arr(s.values.view());
      assert.equal(Math.max(...arr(v.y)), Math.max(...raw), `${s.name} max drawn`);
      assert.equal(Math.min(...arr(v.y)), Math.min(...raw), `${s.name} min drawn`);
      assert.ok(v.x.length <= 4 * 60 + 8, `${s.name}: ${v.x.length} points for 60 pixels`);
    }
    // zoomed, smoothed, relative time: the same as from every point (EMA sums in another order: 1e-12)
    const startSec = 1.7e9;
    sameViews(hostViews(f, { x0: 100, x1: 250, pixels: 37, smoothing: 0.6, xMode: 'relative', startSec }), pageViews(full, 100, 250, 37, 0.6, 'relative', startSec), 1e-12, 'relative');
    sameViews(hostViews(f, { x0: 33, x1: 71, pixels: 500, smoothing: 0.9, xMode: 'step' }), pageViews(full, 33, 71, 500, 0.9, 'step'), 1e-12, 'zoomed');
    // live: lines appended; the poll adds them to the host's series (incrementally) = a fresh read of the whole run
    const extra = [401, 402, 403].map((s) => ({ step: s, time: s * 1.7, values: { 'reward/mean': 5 + s, kl: 0.03 } }));
    fs.appendFileSync(path.join(dir, 'metrics.jsonl'), extra.map((r) => JSON.stringify(r) + '\n').join(''));
    const p = f.poll();
    assert.deepEqual(p.records.map((r) => r.step), [401, 402, 403]);
    const after = hostViews(f, { pixels: 60, smoothing: 0.6, xMode: 'step' });
    const fresh = new RunFollower(dir); fresh.initialColumns({ pixels: 60, smoothing: 0.6, xMode: 'step' }, 0);
    sameViews(after, hostViews(fresh, { pixels: 60, smoothing: 0.6, xMode: 'step' }), 1e-12, 'after append');
    assert.equal(after.get('reward/mean')!.lastStep, 403);
    assert.equal(after.get('reward/mean')!.hi, 5 + 403, 'the appended spike is the maximum');
    // hover values: the nearest point (raw / smoothed)
    const at = f.metricsSource().at(402.2, ['reward/mean', 'no such'], 0, 'step', undefined);
    assert.deepEqual(at, [{ name: 'reward/mean', step: 402, x: 402, value: 407 }]);
    // CSV: the named series whole
    const c = f.metricsSource().series(['kl']);
    assert.deepEqual(c.names, ['kl']);
    assert.equal(c.lengths[0], full.series.get('kl')!.steps.length + 3);
    // under the threshold: every point, as before
    const small = new RunFollower(dir).initialColumns({ pixels: 60, smoothing: 0, xMode: 'step' }, 1e9);
    assert.equal(small.bucketed, undefined);
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});

test('the first read goes in slices of a few MB: a 9 MB metrics file gives the columns of a whole-file read', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-dslice-'));
  try {
    const dir = makeRun({ dir: path.join(tmp, 'run'), algorithm: 'grpo', steps: 3, seed: 8, noRollouts: true });
    const pad = 'x'.repeat(900);
    const lines: string[] = [];
    for (let s = 4; s <= 10_003; s++) lines.push(JSON.stringify({ step: s, time: s, values: { 'reward/mean': Math.sin(s), kl: s % 7 }, note: pad }));
    fs.appendFileSync(path.join(dir, 'metrics.jsonl'), lines.join('\n') + '\n');
    assert.ok(fs.statSync(path.join(dir, 'metrics.jsonl')).size > 9e6);
    const a = new RunFollower(dir).initialColumns();
    const b = metricsColumns(new RunFollower(dir).initial());
    assert.deepEqual([a.names, a.lengths, a.appended], [b.names, b.lengths, b.appended]);
    assert.deepEqual(new Float64Array(a.values as ArrayBuffer), new Float64Array(b.values as ArrayBuffer));
    assert.equal(a.lengths[a.names.indexOf('kl')], 10_003);
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});

test('a follower started at the files\' ends reads nothing that was there, then only new complete lines', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-dend-'));
  try {
    const dir = makeRun({ dir: path.join(tmp, 'run'), algorithm: 'grpo', steps: 5, seed: 9, noRollouts: true, status: 'running' });
    const metrics = path.join(dir, 'metrics.jsonl');
    // a line being written (no newline yet) is not skipped: it is read once complete
    fs.appendFileSync(metrics, '{"step": 6, "values": {"kl": 0.');
    const f = new RunFollower(dir);
    f.startAtEnd();
    assert.deepEqual(f.poll().records, [], 'nothing old');
    fs.appendFileSync(metrics, '25}}\n' + JSON.stringify({ step: 7, values: { kl: 0.5 } }) + '\n');
    assert.deepEqual(f.poll().records.map((r) => [r.step, r.values.kl]), [[6, 0.25], [7, 0.5]]);
    // its series, asked for later (metrics/window of a view that only followed), are the whole run's
    const st = f.metricsSource().store;
    assert.deepEqual(arr(st.series.get('kl')!.steps.view()).slice(-2), [6, 7]);
    assert.equal(st.series.get('kl')!.steps.length, 7);
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});

test('the sliced first read skips what the tolerant reader skips (bad JSON, blank, CRLF), stops before an unfinished line, counts lines', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-dtol-'));
  try {
    const dir = makeRun({ dir: path.join(tmp, 'run'), algorithm: 'grpo', steps: 2, seed: 10, noRollouts: true, status: 'running' });
    const metrics = path.join(dir, 'metrics.jsonl');
    fs.writeFileSync(metrics, [
      JSON.stringify({ step: 1, values: { kl: 0.1 } }), 'not json {', '', '   ', JSON.stringify({ step: 2, values: { kl: 0.2 } }) + '\r',
      JSON.stringify({ step: 3 }), JSON.stringify({ step: 4, split: 'eval', values: { reward: 0.5 } }),
    ].join('\n') + '\n' + '{"step": 5, "values": {"kl": 0.');
    const f = new RunFollower(dir);
    const a = f.initialColumns();
    const b = metricsColumns(new RunFollower(dir).initial());
    assert.deepEqual([a.names, a.lengths], [b.names, b.lengths]);
    assert.deepEqual([a.names, a.lengths], [['kl', 'eval/reward'], [2, 1]]);
    assert.deepEqual(new Float64Array(a.values as ArrayBuffer), new Float64Array([0.1, 0.2, 0.5]));
    // 7 complete lines read: the next is line 8, at the unfinished line's first byte
    const at = (f as unknown as { m: { offset: number; line: number } }).m;
    assert.equal(at.line, 8);
    assert.equal(at.offset, fs.readFileSync(metrics, 'utf8').lastIndexOf('\n') + 1);
    fs.appendFileSync(metrics, '5}}\n');
    assert.deepEqual(f.poll().records, [{ step: 5, values: { kl: 0.5 } }]);
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});

test('the Runs tree keeps per step only the fields it shows; the last step whole; a 9 MB metrics file is read in slices', async () => {
  const { RunEntry } = await import('../../src/host/runStore');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-dtree-'));
  try {
    const dir = makeRun({ dir: path.join(tmp, 'run'), algorithm: 'grpo', steps: 2, seed: 11, noRollouts: true });
    const pad = 'x'.repeat(900);
    const lines: string[] = [];
    for (let s = 3; s <= 10_002; s++) lines.push(JSON.stringify({ step: s, values: { 'reward/mean': s / 10, kl: 0.5, frac_reward_zero_std: 0.25, tokens_per_s: 99, other: s }, note: pad }));
    fs.appendFileSync(path.join(dir, 'metrics.jsonl'), lines.join('\n') + '\n');
    const e = new RunEntry(dir);
    e.refresh();
    assert.equal(e.lastStep, 10_002);
    assert.deepEqual(e.metrics.get(500), { 'reward/mean': 50, kl: 0.5, frac_reward_zero_std: 0.25 });
    assert.deepEqual(e.latestMetrics, { 'reward/mean': 1000.2, kl: 0.5, frac_reward_zero_std: 0.25, tokens_per_s: 99, other: 10_002 });
    assert.equal(e.metrics.size, 10_002);
    // a later line for the last step merges into it
    fs.appendFileSync(path.join(dir, 'metrics.jsonl'), JSON.stringify({ step: 10_002, values: { extra: 1 } }) + '\n');
    e.refresh();
    const last = e.latestMetrics as Record<string, number | null>;
    assert.equal(last.extra, 1);
    assert.equal(last.other, 10_002);
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});
