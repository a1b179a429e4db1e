// Browser tests (REAL webview bundle in headless Chromium, fake host as in webview-browser.test.ts) of the dashboard
// controls of issue 16: the run status updates live, legend click hides / double-click and alt-click isolate, the
// metric search, distinct colours, hover "name: value" without reflowing the legend, the x-axis switch, log scale,
// CSV / PNG export through the host, and the run picker. Expected values come from the run files.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Browser } from 'playwright-core';
import { chromiumMissing, launch, openView, type Opened } from '../browser/harness';
import { makeRun } from '../fixtures/makeRun';
import { fmt } from '../../src/webview/data/scales';
import { exportFileName } from '../../src/webview/data/dashboardExport';

const missing = chromiumMissing();
if (missing) test(`dashboard controls browser tests (${missing})`, { skip: missing }, () => undefined);

function metrics(dir: string): { step: number; time?: number; values: Record<string, number> }[] {
  return fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.split !== 'eval');
}

describe('dashboard controls in headless Chromium', { skip: missing }, () => {
  let browser: Browser;
  let tmp: string, grpo: string, ppo: string, live: string;
  const opened: Opened[] = [];
  const open = async (o: Parameters<typeof openView>[1]) => { const v = await openView(browser, o); opened.push(v); await v.ready(); return v; };
  const setSelect = (v: Opened, id: string, value: string) => v.page.evaluate(([i, val]) => { const e = document.getElementById(i) as any; e.value = val; e.dispatchEvent(new Event('change')); }, [id, value]);
  const typeFilter = (v: Opened, text: string) => v.page.evaluate((t) => { const e = document.getElementById('metric-filter') as any; e.value = t; e.dispatchEvent(new Event('input')); }, text);
  const frame = (v: Opened) => v.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const legend = (v: Opened, panel: string, name: string) => v.page.locator(`[data-panel="${panel}"] .legend-item[data-name="${name}"]`);

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-dctl-'));
    grpo = makeRun({ dir: path.join(tmp, 'grpo'), algorithm: 'grpo', steps: 20, seed: 3, extraMetrics: 12 });
    ppo = makeRun({ dir: path.join(tmp, 'ppo'), algorithm: 'ppo', steps: 20, groups: 4, groupSize: 4, seed: 4 });
    live = makeRun({ dir: path.join(tmp, 'live'), algorithm: 'grpo', steps: 6, seed: 5, status: 'running', noRollouts: true });
    browser = await launch();
  });
  after(async () => {
    for (const v of opened) await v.page.context().close().catch(() => undefined);
    await browser?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('the run status in the header follows metrics/append, also when only the status changed', async () => {
    const v = await open({ view: 'dashboard', runs: [live] });
    assert.match((await v.page.textContent('#runs'))!, /grpo synthetic[^()]*\(running\)/);
    const runDir = path.resolve(live);
    await v.post({ kind: 'notification', method: 'metrics/append', params: { runDir, records: [], evals: [], status: 'completed' } });
    await frame(v);
    const text = (await v.page.textContent('#runs'))!;
    assert.match(text, /grpo synthetic[^()]*\(completed\)/);
    assert.doesNotMatch(text, /running/);
    assert.equal((await v.snapshot()).runs[0].status, 'completed');
  });

  test('legend: click hides, double-click / alt-click isolate, again shows all; distinct colours; metric search', async () => {
    const v = await open({ view: 'dashboard', runs: [grpo] });
    let snap = await v.snapshot();
    const extra = snap.panels.find((p: { id: string }) => p.id === 'other.extra');
    assert.ok(extra, `other.extra in ${snap.panels.map((p: { id: string }) => p.id)}`);
    assert.equal(extra.names.length, 12);
    assert.equal(new Set(extra.colors).size, 12, 'twelve series, twelve colours');
    const pointsAll = snap.debug.pointsDrawn;
    const total = snap.panels.reduce((a: number, p: { names: string[] }) => a + p.names.length, 0);
    assert.ok(total >= 27, `${total} metrics`);
    // click hides one series (and only in the state of that name)
    await legend(v, 'kl', 'kl').click();
    await frame(v);
    snap = await v.snapshot();
    assert.deepEqual(snap.hidden, ['kl']);
    assert.deepEqual(snap.panels.find((p: { id: string }) => p.id === 'kl').shown, []);
    assert.ok(snap.debug.pointsDrawn < pointsAll, `fewer points drawn: ${snap.debug.pointsDrawn} < ${pointsAll}`);
    assert.equal(await legend(v, 'kl', 'kl').getAttribute('aria-pressed'), 'false');
    await legend(v, 'kl', 'kl').click();
    await frame(v);
    assert.deepEqual((await v.snapshot()).hidden, []);
    // double-click isolates; double-click again shows all
    await legend(v, 'other.extra', 'extra/metric_03').dblclick();
    await frame(v);
    snap = await v.snapshot();
    assert.deepEqual(snap.panels.find((p: { id: string }) => p.id === 'other.extra').shown, ['extra/metric_03']);
    assert.equal(snap.hidden.length, 11);
    await legend(v, 'other.extra', 'extra/metric_03').dblclick();
    await frame(v);
    assert.deepEqual((await v.snapshot()).hidden, []);
    // alt-click isolates too
    await legend(v, 'reward', 'reward/std').click({ modifiers: ['Alt'] });
    await frame(v);
    assert.deepEqual((await v.snapshot()).panels.find((p: { id: string }) => p.id === 'reward').shown, ['reward/std']);
    const saved = await v.page.evaluate(() => (window as any).__savedState);
    assert.deepEqual(saved.hidden.sort(), ['reward/accuracy', 'reward/format', 'reward/mean']);
    // metric search: words, then a regex; panels without a match disappear
    await typeFilter(v, 'clip');
    await frame(v);
    snap = await v.snapshot();
    assert.deepEqual(snap.panels.map((p: { id: string; names: string[] }) => [p.id, p.names]), [
      ['lengths.fraction', ['response_length/clip_ratio']], ['clipping', ['clip_ratio/high_mean', 'clip_ratio/low_mean']]]);
    assert.equal(await v.page.textContent('#metric-filter-note'), `3 of ${total} metrics`);
    await typeFilter(v, '/^extra\\/metric_1/');
    await frame(v);
    assert.deepEqual((await v.snapshot()).panels.map((p: { names: string[] }) => p.names), [['extra/metric_10', 'extra/metric_11']]);
    await typeFilter(v, 'no such metric <b>');
    await frame(v);
    assert.equal((await v.snapshot()).panels.length, 0);
    assert.equal(await v.page.textContent('#no-match'), 'No metric matches "no such metric <b>".');
    assert.equal(await v.page.locator('#app b').count(), 0);
    assert.deepEqual(v.pageErrors, []);
  });

  test('hover shows "name: value" in a box without moving the legend; x-axis switch; log scale; CSV and PNG export', async () => {
    const v = await open({ view: 'dashboard', runs: [grpo] });
    await v.page.evaluate(() => { const r = document.getElementById('smoothing') as HTMLInputElement; r.value = '0'; r.dispatchEvent(new Event('input')); });
    await frame(v);
    const recs = metrics(grpo);
    const legendBox = async () => v.page.locator('[data-panel="kl"] .panel-legend').boundingBox();
    const before = await legendBox();
    const pt = await v.page.evaluate(() => (window as any).__rlLens.instance.panelPoint('kl', 10));
    await v.page.mouse.move(pt.x, pt.y);
    const hover = v.page.locator('[data-panel="kl"] .hover-values');
    await hover.waitFor({ state: 'visible', timeout: 3000 });
    const text = (await hover.textContent())!;
    assert.ok(text.includes(`kl: ${fmt(recs[9].values.kl, 4)}`), text);
    assert.match(text, /^step 10/);
    assert.deepEqual(await legendBox(), before, 'legend did not reflow');
    await v.page.mouse.move(5, 5);
    // x-axis: relative time = the records' time (makeRun: 1.7 s per step), wall = start + time
    await setSelect(v, 'x-axis', 'relative');
    await frame(v);
    let snap = await v.snapshot();
    assert.equal(snap.xAxis, 'relative');
    const [a, b] = snap.panels[0].x;
    assert.ok(Math.abs(a - recs[0].time!) < 1e-9 && Math.abs(b - recs[19].time!) < 1e-9, `${a}, ${b}`);
    assert.match((await v.page.textContent('[data-panel="kl"] text.axis-label'))!, /relative time/);
    assert.ok((await v.page.locator('[data-panel="kl"] g.axis.x text').allTextContents()).some((t) => /^\d+(\.\d+)?s$/.test(t)), 'ticks as durations');
    await setSelect(v, 'x-axis', 'wall');
    await frame(v);
    snap = await v.snapshot();
    const start = Date.parse(JSON.parse(fs.readFileSync(path.join(grpo, 'manifest.json'), 'utf8')).startedAt) / 1000;
    assert.ok(Math.abs(snap.panels[0].x[0] - (start + recs[0].time!)) < 1e-6, JSON.stringify(snap.panels[0].x));
    assert.ok((await v.page.locator('[data-panel="kl"] g.axis.x text').allTextContents()).some((t) => /^\d\d:\d\d:\d\d$/.test(t)), 'ticks as clock times');
    await setSelect(v, 'x-axis', 'step');
    await frame(v);
    // log scale on the lr panel: a positive, log-spaced domain
    await v.page.locator('[data-panel="optim.lr"] [data-action="log"]').click();
    await frame(v);
    snap = await v.snapshot();
    const lr = snap.panels.find((p: { id: string }) => p.id === 'optim.lr');
    assert.equal(lr.log, true);
    assert.ok(lr.y[0] > 0 && lr.y[0] <= 2e-5 / 1.1 && lr.y[1] >= 1e-4 * 1.1, JSON.stringify(lr.y));
    // CSV of the kl panel: raw values at every step, with time_s
    await v.page.locator('[data-panel="kl"] [data-action="csv"]').click();
    await v.page.waitForFunction(() => (window as any).__rlLens.snapshot().debug.lastExport?.path, undefined, { timeout: 5000 });
    const csv = v.saved.at(-1)!;
    assert.equal(csv.format, 'csv');
    const label = (await v.snapshot()).runs[0].label as string;
    assert.equal(csv.fileName, exportFileName(label, 'KL and β', 'csv'));
    assert.match(csv.fileName, /^grpo_synthetic.*-KL_and\.csv$/);
    const lines = csv.bytes.toString('utf8').trim().split('\n');
    assert.equal(lines[0], 'step,time_s,kl');
    assert.equal(lines.length, 21);
    assert.equal(lines[6], `6,${recs[5].time},${recs[5].values.kl}`);
    await frame(v);
    assert.ok((await v.page.textContent('#status'))!.includes(`Saved CSV to /tmp/${csv.fileName}`));
    // PNG of the same panel: a PNG of the panel's size
    await v.page.locator('[data-panel="kl"] [data-action="png"]').click();
    await v.page.waitForFunction(() => (window as any).__rlLens.snapshot().debug.lastExport?.format === 'png', undefined, { timeout: 5000 });
    await v.page.waitForFunction(() => (window as any).__rlLens.snapshot().debug.lastExport?.path, undefined, { timeout: 5000 });
    const png = v.saved.at(-1)!;
    assert.equal(png.format, 'png');
    assert.deepEqual([...png.bytes.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
    const width = png.bytes.readUInt32BE(16), height = png.bytes.readUInt32BE(20);
    const box = (await v.page.locator('[data-panel="kl"] svg').boundingBox())!;
    assert.equal(width, Math.round(box.width));
    assert.equal(height, Math.round(box.height) + 38);
    assert.deepEqual(v.pageErrors, []);
  });

  test('run picker: the runs the host knows, checking one overlays it and tells the host', async () => {
    const v = await open({ view: 'dashboard', runs: [grpo], known: [ppo] });
    await v.page.click('#pick-runs');
    const boxes = v.page.locator('#run-picker input[type=checkbox]');
    await boxes.first().waitFor({ timeout: 5000 });
    assert.equal(await boxes.count(), 2);
    assert.match((await v.page.textContent('#run-picker'))!, /ppo synthetic.*ppo/);
    await v.page.locator(`#run-picker input[data-run="${path.resolve(ppo)}"]`).check();
    await v.page.waitForFunction(() => (window as any).__rlLens.snapshot().runs.length === 2, undefined, { timeout: 5000 });
    const sent = v.notifications.filter((n) => n.method === 'dashboard/runs').at(-1);
    assert.deepEqual(sent?.params.runDirs, [path.resolve(grpo), path.resolve(ppo)]);
    assert.match((await v.page.textContent('#runs'))!, /grpo synthetic.*ppo synthetic/);
    await v.page.locator(`#run-picker input[data-run="${path.resolve(grpo)}"]`).uncheck();
    await v.page.waitForFunction(() => (window as any).__rlLens.snapshot().runs.length === 1, undefined, { timeout: 5000 });
    assert.equal((await v.snapshot()).runs[0].runDir, path.resolve(ppo));
  });
});
