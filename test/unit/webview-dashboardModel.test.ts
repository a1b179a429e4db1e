// Pure parts of the dashboard (issue 16): units and one-unit panels, distinct colours, the metric filter, legend
// hide / isolate, x-axis transforms (step / relative / wall time), log-scale extent, CSV text and export file checks,
// and the host's status-only `metrics/append`. Expected values are written out by hand.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { dashboardPanels, filterPanels, isolate, metricFilter, metricUnit, seriesColors, toggleHidden } from '../../src/webview/data/dashboardPanels';
import { formatDuration, formatWall, logExtent, seriesX, stepAtTime, stepToX, timeAtStep, xToStep } from '../../src/webview/data/dashboardAxis';
import { csvText, exportFileName, panelCsv } from '../../src/webview/data/dashboardExport';
import { SeriesStore } from '../../src/webview/data/series';
import { checkExport } from '../../src/host/ui/panels/exportFile';
import { RunFollower, appendMessage } from '../../src/host/ui/panels/dataProvider';
import { makeRun } from '../fixtures/makeRun';

// the 38 train metrics of a real `rl-lens train --preset grpo-arithmetic` run, plus eval and PPO critic metrics
const GRPO = ['advantages/max', 'advantages/mean', 'advantages/min', 'advantages/skew', 'advantages/std', 'clip_ratio/dual_mean', 'clip_ratio/high_mean', 'clip_ratio/low_mean', 'clip_ratio/region_mean', 'dynamic_sampling/gen_batches', 'dynamic_sampling/kept_groups', 'entropy', 'frac_reward_zero_std', 'grad_norm', 'groups/filtered', 'kl', 'kl/k1', 'kl_coef', 'kl_loss', 'lr', 'num_tensors', 'perf/gflops', 'perf/step_time', 'perf/tokens_per_sec', 'pg_loss', 'response_length/clip_ratio', 'response_length/max', 'response_length/mean', 'response_length/min', 'reward/accuracy/mean', 'reward/format/mean', 'reward/mean', 'reward/std', 'score/mean', 'step_time', 'timing/gen_s', 'tokens/generated', 'tokens_per_s'];
const MORE = ['eval/pass@1', 'eval/pass@4', 'eval/reward/mean', 'vf_loss', 'vf_clipfrac', 'vf_explained_var', 'values/mean', 'returns/mean'];

test('panels: one unit each, topics split by unit, "other" split by namespace (no more 11-series "Other")', () => {
  const panels = dashboardPanels([...GRPO, ...MORE]);
  assert.deepEqual(panels.map((p) => [p.id, p.unit, p.names]), [
    ['reward', 'reward', ['reward/accuracy/mean', 'reward/format/mean', 'reward/mean', 'reward/std', 'score/mean']],
    ['reward.fraction', 'fraction', ['frac_reward_zero_std']],
    ['kl', 'nats', ['kl', 'kl/k1']],
    ['kl.coef', 'coef', ['kl_coef']],
    ['entropy', 'nats', ['entropy']],
    ['lengths', 'tokens', ['response_length/max', 'response_length/mean', 'response_length/min']],
    ['lengths.fraction', 'fraction', ['response_length/clip_ratio']],
    ['clipping', 'fraction', ['clip_ratio/dual_mean', 'clip_ratio/high_mean', 'clip_ratio/low_mean', 'clip_ratio/region_mean', 'vf_clipfrac']],
    ['losses', 'loss', ['kl_loss', 'pg_loss', 'vf_loss']],
    ['optim', 'norm', ['grad_norm']],
    ['optim.lr', 'lr', ['lr']],
    ['throughput', 'tokens/s', ['perf/tokens_per_sec', 'tokens_per_s']],
    ['throughput.seconds', 'seconds', ['perf/step_time', 'step_time', 'timing/gen_s']],
    ['throughput.flops', 'flops', ['perf/gflops']],
    ['eval', 'fraction', ['eval/pass@1', 'eval/pass@4']],
    ['eval.reward', 'reward', ['eval/reward/mean']],
    ['other.advantages', 'advantage', ['advantages/max', 'advantages/mean', 'advantages/min', 'advantages/skew', 'advantages/std']],
    ['other.dynamic_sampling', 'count', ['dynamic_sampling/gen_batches', 'dynamic_sampling/kept_groups']],
    ['other.groups', 'count', ['groups/filtered']],
    ['other.returns', 'value', ['returns/mean']],
    ['other.tokens', 'tokens', ['tokens/generated']],
    ['other.values', 'value', ['values/mean']],
    ['other.fraction', 'fraction', ['vf_explained_var']],
    ['other.count', 'count', ['num_tensors']],
  ]);
  // every name once, and each panel's names all have the panel's unit
  assert.equal(panels.flatMap((p) => p.names).length, GRPO.length + MORE.length);
  for (const p of panels) for (const n of p.names) assert.equal(metricUnit(n), p.unit, `${n} in ${p.id}`);
  assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'ids unique');
  // a namespace with two units gets two panels; an unknown bare name lands in "other"
  assert.deepEqual(dashboardPanels(['foo/a_time', 'foo/b', 'zzz']).map((p) => [p.id, p.unit, p.names]), [
    ['throughput', 'seconds', ['foo/a_time']], ['other.foo', 'other', ['foo/b']], ['other', 'other', ['zzz']]]);
  assert.deepEqual(dashboardPanels(['extra/x_loss', 'extra/y', 'extra/n_kept']).map((p) => p.id), ['losses', 'other.extra.count', 'other.extra.other']);
});

test('colours: distinct within a panel beyond the palette; the palette first', () => {
  const pal = ['#111111', '#222222', '#333333'];
  const c = seriesColors(11, pal, false);
  assert.equal(c.length, 11);
  assert.deepEqual(c.slice(0, 3), pal);
  assert.equal(new Set(c).size, 11);
  assert.deepEqual(seriesColors(2, pal, true), ['#111111', '#222222']);
  // a repeated palette entry is not used twice
  assert.equal(new Set(seriesColors(4, ['#aaa', '#AAA', '#bbb'], false)).size, 4);
});

test('metric filter: words must all occur (any case), /regex/, invalid regex says why; panels keep only matches', () => {
  const f = metricFilter('CLIP mean');
  assert.deepEqual(GRPO.filter(f.test), ['clip_ratio/dual_mean', 'clip_ratio/high_mean', 'clip_ratio/low_mean', 'clip_ratio/region_mean']);
  assert.equal(f.active, true);
  assert.deepEqual(GRPO.filter(metricFilter('/^kl(\\/|$)/').test), ['kl', 'kl/k1']);
  const bad = metricFilter('/(/');
  assert.match(bad.error!, /invalid regular expression/);
  assert.equal(GRPO.filter(bad.test).length, GRPO.length);
  assert.equal(metricFilter('  ').active, false);
  const shown = filterPanels(dashboardPanels(GRPO), metricFilter('length').test);
  assert.deepEqual(shown.map((p) => [p.id, p.names]), [['lengths', ['response_length/max', 'response_length/mean', 'response_length/min']], ['lengths.fraction', ['response_length/clip_ratio']]]);
});

test('legend: click toggles one series, isolate shows only one and isolating it again shows all (other panels kept)', () => {
  const panel = ['a', 'b', 'c'];
  let h = toggleHidden(new Set(['x']), 'b');
  assert.deepEqual([...h].sort(), ['b', 'x']);
  h = toggleHidden(h, 'b');
  assert.deepEqual([...h], ['x']);
  h = isolate(h, panel, 'b');
  assert.deepEqual([...h].sort(), ['a', 'c', 'x']);
  h = isolate(h, panel, 'b');          // b already alone: everything back
  assert.deepEqual([...h], ['x']);
  h = isolate(new Set(['b']), panel, 'b'); // isolating a hidden series shows it and hides the rest
  assert.deepEqual([...h].sort(), ['a', 'c']);
  const before = new Set(['a']);
  isolate(before, panel, 'c'); toggleHidden(before, 'c');
  assert.deepEqual([...before], ['a'], 'inputs unchanged');
});

test('x-axis: step, relative and wall time from the records\' time; interpolation, clamping and the inverse', () => {
  const c = { steps: [1, 2, 4], times: [10, 20, 40] };
  assert.equal(timeAtStep(c, 3), 30);           // between knots 2 (20 s) and 4 (40 s)
  assert.equal(timeAtStep(c, 0), 10);           // before the first: clamped
  assert.equal(timeAtStep(c, 9), 40);
  assert.ok(Number.isNaN(timeAtStep({ steps: [], times: [] }, 3)));
  assert.equal(stepAtTime(c, 25), 2.5);
  assert.equal(stepAtTime(c, 5), 1);
  assert.equal(stepToX('step', 3, c, 1000), 3);
  assert.equal(stepToX('relative', 3, c, 1000), 30);
  assert.equal(stepToX('wall', 3, c, 1000), 1030);
  assert.ok(Number.isNaN(stepToX('wall', 3, c, undefined)));
  assert.equal(xToStep('wall', 1025, c, 1000), 2.5);
  assert.equal(xToStep('relative', 40, c, 1000), 4);
  assert.deepEqual(Array.from(seriesX('relative', [1, 2, 3, 4], c, 0)), [10, 20, 30, 40]);
  assert.equal(formatDuration(45), '45s');
  assert.equal(formatDuration(12.5), '12.5s');
  assert.equal(formatDuration(65), '1m 05s');
  assert.equal(formatDuration(3725), '1h 02m');
  assert.equal(formatDuration(90000), '1d 01h');
  assert.equal(formatWall(3661, 60, 0), '01:01:01');
  assert.equal(formatWall(3661, 86400, 0), '1970-01-01 01:01:01');
  assert.equal(formatWall(3661, 60, 120), '03:01:01');
});

test('series store: the step → time clock from metrics and eval records (times never go back)', () => {
  const st = new SeriesStore();
  st.appendMetrics([{ step: 1, time: 1.5, values: { a: 1 } }, { step: 2, values: { a: 2 } }, { step: 3, time: 4, values: { a: 3 } }, { step: 4, time: 3, values: { a: 4 } }]);
  st.appendEvals([{ step: 5, time: 6, passAtK: { '1': 0.5 }, samplesPerPrompt: 4, numPrompts: 2 }, { step: 5, time: 7, passAtK: { '4': 0.9 }, samplesPerPrompt: 4, numPrompts: 2 }]);
  assert.deepEqual(Array.from(st.clock.steps.view()), [1, 3, 4, 5]);
  assert.deepEqual(Array.from(st.clock.times.view()), [1.5, 4, 4, 6]); // step 4's 3 s clamped to 4 s
  assert.equal(timeAtStep({ steps: st.clock.steps.view(), times: st.clock.times.view() }, 2), 2.75);
});

test('log scale: extent of the positive visible values (×1.1 padding), one value → [v/2, 2v], none → undefined', () => {
  const parts = [{ steps: [1, 2, 3, 4, 5], values: [-1, 0, 2, 8, 1000] }];
  const e = logExtent(parts, 1, 4)!;
  assert.ok(Math.abs(e[0] - 2 / 1.1) < 1e-12 && Math.abs(e[1] - 8.8) < 1e-12, JSON.stringify(e));
  assert.deepEqual(logExtent(parts, 3, 3), [1, 4]);
  assert.equal(logExtent(parts, 1, 2), undefined);
  assert.equal(logExtent([{ steps: [1], values: [NaN] }], 0, 9), undefined);
});

test('CSV: step rows, time_s and one column per series (run-prefixed when overlaid), empty cells, hostile names neutralised', () => {
  const one = panelCsv([{ label: 'r', series: new Map([['kl', { steps: [1, 2, 4], values: [0.5, 0.25, -1e-7] }], ['x', { steps: [2], values: [3] }]]), clock: { steps: [1, 2, 4], times: [1.5, 3, 6] } }], ['kl', 'x', 'missing']);
  assert.equal(one, 'step,time_s,kl,x\n1,1.5,0.5,\n2,3,0.25,3\n4,6,-1e-7,\n');
  const two = panelCsv([
    { label: 'a', series: new Map([['=HYPERLINK("http://x")', { steps: [1], values: [1] }]]) },
    { label: 'a', series: new Map([['=HYPERLINK("http://x")', { steps: [2], values: [2] }]]), clock: { steps: [], times: [] } },
  ], ['=HYPERLINK("http://x")']);
  assert.equal(two, 'step,"a: =HYPERLINK(""http://x"")","a #2: =HYPERLINK(""http://x"")"\n1,1,\n2,,2\n');
  assert.equal(csvText('=1+1'), "'=1+1");
  assert.equal(csvText('-x,y'), `"'-x,y"`);
  assert.equal(csvText('a\nb'), '"a\nb"');
  assert.equal(csvText('plain'), 'plain');
  assert.equal(exportFileName('grpo synthetic', 'KL and β', 'png'), 'grpo_synthetic-KL_and.png');
  assert.equal(exportFileName('../../etc', '', 'csv'), 'etc.csv');
  assert.equal(exportFileName('', '', 'csv'), 'rl-lens-panel.csv');
});

test('host export check: base name only, extension of the format, PNG bytes must be a PNG', () => {
  const csv = checkExport({ format: 'csv', fileName: '../../x/evil.sh', text: 'a,b\n' });
  assert.equal(csv.fileName, 'evil.sh.csv');
  assert.equal(Buffer.from(csv.bytes).toString('utf8'), 'a,b\n');
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
  const p = checkExport({ format: 'png', fileName: 'C:\\tmp\\k.png', base64: png.toString('base64') });
  assert.equal(p.fileName, 'k.png');
  assert.deepEqual(Buffer.from(p.bytes), png);
  assert.throws(() => checkExport({ format: 'png', fileName: 'k.png', base64: Buffer.from('GIF89a').toString('base64') }), /not a PNG/);
  assert.throws(() => checkExport({ format: 'exe', fileName: 'k', text: '' }), /format must be csv or png/);
  assert.throws(() => checkExport({ format: 'csv', fileName: 'k.csv' }), /text must be a string/);
  assert.throws(() => checkExport({ format: 'png', fileName: 'k.png', base64: '<script>' }), /base64/);
});

test('host: a run that ends between two polls without a new metric line still sends its status (no stale "running")', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-dstatus-'));
  try {
    const dir = makeRun({ dir: path.join(tmp, 'r'), algorithm: 'grpo', steps: 4, status: 'running', noRollouts: true });
    const f = new RunFollower(dir);
    assert.equal(f.initial().run.status, 'running');
    assert.equal(appendMessage(dir, f.poll()), undefined, 'nothing new: nothing sent');
    const man = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ ...man, status: 'completed' }));
    assert.deepEqual(appendMessage(dir, f.poll()), { runDir: dir, records: [], evals: [], status: 'completed' });
    assert.equal(appendMessage(dir, f.poll()), undefined, 'sent once');
    assert.equal(f.initial().run.startedAt, man.startedAt, 'runRef carries startedAt for the wall-time axis');
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});
