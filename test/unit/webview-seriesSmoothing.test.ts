// Which dashboard series the smoothing slider smooths (src/webview/data/series.ts smoothingFor, docs/views.md
// "Dashboard"): eval series and step-like integer series (≤ 16 levels) are drawn raw; the rule is incremental and the
// host's windows / hover follow it. Panels for Training-Free GRPO's metrics (dashboardPanels.ts). The eval record's
// baseline becomes eval/pass@k_<name>. Expected values are written out by hand.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { Column, SeriesStore, isStepLike, smoothingFor } from '../../src/webview/data/series';
import { dashboardPanels, metricUnit } from '../../src/webview/data/dashboardPanels';
import { MetricsSource } from '../../src/host/ui/panels/metricsWindow';
import { unpackViews } from '../../src/webview/data/dashboardWindow';

const series = (name: string, values: number[]) => { const c = new Column(4); for (const v of values) c.push(v); return { name, values: c }; };

test('smoothingFor: eval and step-like integer series are drawn raw, the others get the slider weight', () => {
  const w = 0.6;
  assert.equal(smoothingFor(series('reward/mean', [0.5, 0.03, 0.07]), w), 0.6);
  assert.equal(smoothingFor(series('reward/mean', [0.5, 0.03]), 0), 0, 'slider at 0');
  // counts and levels: library size 0 → 1 → 2, the epoch, operation counts, a 0/1 flag
  assert.equal(smoothingFor(series('tfgrpo/library_size', [1, 2, 2, 2]), w), 0);
  assert.equal(smoothingFor(series('tfgrpo/epoch', [1, 1, 1, 1, 2, 2, 2, 2, 3]), w), 0);
  assert.equal(smoothingFor(series('tfgrpo/ops/add', [1, 0, 0, 1]), w), 0);
  // a non-finite value does not count as a level, nor does it make the series fractional
  assert.equal(smoothingFor(series('x/flag', [0, NaN, 1, Infinity]), w), 0);
  // 16 distinct integers: still step-like; 17: a measurement (e.g. a max length) → smoothed
  assert.equal(smoothingFor(series('response_length/max', Array.from({ length: 16 }, (_, i) => 3 * i)), w), 0);
  assert.equal(smoothingFor(series('response_length/max', Array.from({ length: 17 }, (_, i) => 3 * i)), w), 0.6);
  // one fractional value: smoothed
  assert.equal(smoothingFor(series('tfgrpo/library_tokens', [9, 15, 15.5]), w), 0.6);
  // eval series, whatever their values
  assert.equal(smoothingFor(series('eval/pass@1', [0.453125, 0, 0, 0]), w), 0);
  assert.equal(smoothingFor(series('eval/reward/mean_no_library', [0.553, 0.553]), w), 0);
  assert.equal(smoothingFor(series('tfgrpo/pass@4', [0.8, 0.1]), w), 0);
  // no finite value: nothing to call step-like
  assert.equal(smoothingFor(series('loss', [NaN]), w), 0.6);
});

test('isStepLike is incremental per column: appended points only; a fractional value is final', () => {
  const s = series('tfgrpo/library_size', [0, 1]);
  assert.equal(isStepLike(s.values.view(), s.values), true);
  s.values.push(2); s.values.push(2);
  assert.equal(isStepLike(s.values.view(), s.values), true);
  s.values.push(2.5);
  assert.equal(isStepLike(s.values.view(), s.values), false);
  s.values.push(3);
  assert.equal(isStepLike(s.values.view(), s.values), false);
  // a 17th level arriving later turns a count into a measurement
  const c = series('n', Array.from({ length: 16 }, (_, i) => i));
  assert.equal(isStepLike(c.values.view(), c.values), true);
  c.values.push(16);
  assert.equal(isStepLike(c.values.view(), c.values), false);
});

test('host window and hover: a step-like series is drawn raw (no band) at smoothing 0.6; a fractional one is smoothed', () => {
  const st = new SeriesStore();
  st.appendMetrics([
    { step: 1, time: 1, split: 'train', values: { 'tfgrpo/library_size': 1, 'reward/mean': 0.5 } },
    { step: 2, time: 2, split: 'train', values: { 'tfgrpo/library_size': 2, 'reward/mean': 1.5 } },
  ]);
  st.appendEvals([{ step: 2, passAtK: { '1': 0.25 }, samplesPerPrompt: 4, numPrompts: 8, meanReward: 0.5, baseline: { name: 'no_library', passAtK: { '1': 0.75 }, meanReward: 0.625 } }]);
  const src = new MetricsSource(st);
  const w = src.window('run', { pixels: 100, smoothing: 0.5, xMode: 'step' });
  const views = new Map(w.names.map((n, k) => [n, unpackViews(new Float64Array(w.data as ArrayBuffer), w.names.length)[k]]));
  const lib = views.get('tfgrpo/library_size')!;
  assert.deepEqual([Array.from(lib.y), lib.envX.length, lib.emaCount], [[1, 2], 0, 0]);
  // reward: debiased EMA w = 0.5 over 0.5, 1.5: s1 = 0.25 → 0.25 / 0.5 = 0.5; s2 = 0.125 + 0.75 = 0.875 → 0.875 / 0.75 = 1.1666…
  const rew = views.get('reward/mean')!;
  assert.equal(rew.y[0], 0.5);
  assert.ok(Math.abs(rew.y[1] - 7 / 6) < 1e-12, String(rew.y[1]));
  assert.equal(rew.envX.length > 0, true);
  // the eval record's baseline beside the run's own eval
  assert.deepEqual([views.get('eval/pass@1')!.y[0], views.get('eval/pass@1_no_library')!.y[0], views.get('eval/reward/mean_no_library')!.y[0]], [0.25, 0.75, 0.625]);
  const hover = src.at(2, ['tfgrpo/library_size', 'reward/mean'], 0.5, 'step', undefined).map((r) => r.value);
  assert.equal(hover[0], 2);
  assert.ok(Math.abs(hover[1] - 7 / 6) < 1e-12, String(hover[1]));
  // an integer series with two levels is step-like too, whatever its name (reward/mean 1, 3 at the first steps)
  assert.equal(smoothingFor(series('reward/mean', [1, 3]), 0.5), 0);
});

test('panels for Training-Free GRPO: library size and tokens together, operations together, eval with / without together', () => {
  assert.equal(metricUnit('tfgrpo/ops/add'), 'count');
  assert.equal(metricUnit('tfgrpo/epoch'), 'count');
  const names = ['reward/mean', 'tfgrpo/accuracy', 'tfgrpo/library_size', 'tfgrpo/library_size_seen', 'tfgrpo/library_tokens', 'tfgrpo/groups_selected',
    'tfgrpo/groups_selected_frac', 'tfgrpo/epoch', 'tfgrpo/ops/add', 'tfgrpo/ops/delete', 'tfgrpo/ops/modify', 'tfgrpo/ops/keep', 'tfgrpo/ops/rejected',
    'eval/pass@1', 'eval/pass@1_no_library', 'eval/pass@1_gain', 'eval/pass@1_blank_prefix', 'eval/reward/mean', 'eval/reward/mean_no_library'];
  const got = dashboardPanels(names).map((p) => [p.id, p.title, p.unit, p.names]);
  assert.deepEqual(got, [
    ['reward', 'Reward and its parts', 'reward', ['reward/mean']],
    ['eval', 'Eval pass@1 / pass@k', 'fraction', ['eval/pass@1', 'eval/pass@1_blank_prefix', 'eval/pass@1_gain', 'eval/pass@1_no_library']],
    ['eval.reward', 'Eval pass@1 / pass@k', 'reward', ['eval/reward/mean', 'eval/reward/mean_no_library']],
    ['other.tfgrpo.fraction', 'tfgrpo', 'fraction', ['tfgrpo/accuracy', 'tfgrpo/groups_selected_frac']],
    ['other.tfgrpo.count', 'tfgrpo', 'count', ['tfgrpo/epoch', 'tfgrpo/groups_selected']],
    ['other.tfgrpo.other', 'tfgrpo', 'other', ['tfgrpo/library_size', 'tfgrpo/library_size_seen', 'tfgrpo/library_tokens']],
    ['other.tfgrpo.ops', 'tfgrpo/ops', 'count', ['tfgrpo/ops/add', 'tfgrpo/ops/delete', 'tfgrpo/ops/keep', 'tfgrpo/ops/modify', 'tfgrpo/ops/rejected']],
  ]);
  // two metrics under a sub-namespace stay in their namespace's panel (env/tool_calls/mean, …/executed)
  assert.deepEqual(dashboardPanels(['env/turns/mean', 'env/tool_calls/mean', 'env/tool_calls/executed']).map((p) => [p.id, p.names]),
    [['other.env', ['env/tool_calls/executed', 'env/tool_calls/mean', 'env/turns/mean']]]);
});
