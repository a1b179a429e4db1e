// Browser test (REAL webview bundle in headless Chromium, fake host with the real host code, as in
// webview-dashboardControls.test.ts) of the bucketed dashboard (issue 18): the same run opened twice, once with every
// point in the page and once bucketed (RL_LENS_BUCKET_ABOVE=0: the host keeps the series and sends per-pixel windows),
// must look the same: identical chart pixels, axes and points drawn, after a zoom, another smoothing and live appends;
// the same hover text and the same CSV export.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { browserSuite, chromiumMissing, type Opened } from '../browser/harness';
import { makeRun } from '../fixtures/makeRun';

const missing = chromiumMissing();
if (missing) test(`bucketed dashboard browser tests (${missing})`, { skip: missing }, () => undefined);

describe('bucketed dashboard in headless Chromium', { skip: missing }, () => {
  let run = '';
  const suite = browserSuite('rl-lens-dbuck-', (tmp) => { run = makeRun({ dir: path.join(tmp, 'run'), algorithm: 'grpo', steps: 600, seed: 21, extraMetrics: 3, noRollouts: true, status: 'running' }); });
  const frame = (v: Opened) => v.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  const open = async (bucketed: boolean) => {
    if (bucketed) process.env.RL_LENS_BUCKET_ABOVE = '0'; else delete process.env.RL_LENS_BUCKET_ABOVE;
    try {
      const v = await suite.open({ view: 'dashboard', runs: [run] });
      await v.page.waitForFunction(() => (window as any).__rlLens.snapshot().debug.firstPaintMs > 0, undefined, { timeout: 15000 });
      return v;
    } finally { delete process.env.RL_LENS_BUCKET_ABOVE; }
  };
  /** no window request out and two frames drawn */
  const settle = async (v: Opened) => { await v.page.waitForTimeout(150); await frame(v); await v.page.waitForTimeout(150); await frame(v); };
  const pixels = (v: Opened) => v.page.evaluate(() => [...document.querySelectorAll<HTMLCanvasElement>('[data-panel] canvas.plot-canvas:not(.plot-cursor)')].map((c) => c.toDataURL()));
  const view = async (v: Opened) => { const s = await v.snapshot(); return { panels: s.panels.map((p: any) => ({ id: p.id, x: p.x, y: p.y, log: p.log })), points: s.debug.pointsDrawn, maxStep: s.runs[0].maxStep, series: s.runs[0].series }; };
  const same = async (a: Opened, b: Opened, what: string) => {
    await settle(a); await settle(b);
    assert.deepEqual(await view(b), await view(a), `${what}: axes and points drawn`);
    const pa = await pixels(a), pb = await pixels(b);
    assert.equal(pb.length, pa.length);
    pa.forEach((d, k) => assert.ok(d === pb[k], `${what}: chart ${k} pixels differ`));
  };

  test('every point vs per-pixel windows: the same charts, zoomed, smoothed, live; same hover and CSV', async () => {
    const a = await open(false), b = await open(true);
    assert.equal((await a.snapshot()).runs[0].bucketed, false);
    assert.equal((await b.snapshot()).runs[0].bucketed, true);
    await same(a, b, 'first paint');
    // zoom (a doctor finding's steps: [250, 350], padded to [200, 400]) → the bucketed page asks for that window
    const dir = path.resolve(run);
    const windows = (await b.snapshot()).debug.windows as number;
    for (const v of [a, b]) await v.post({ kind: 'notification', method: 'view/show', params: { runDir: dir, stepRange: [250, 350] } });
    await b.page.waitForFunction((n) => (window as any).__rlLens.snapshot().debug.windows > n, windows, { timeout: 5000 }).catch(async (e) => { throw new Error(`${e}: ${await b.page.textContent('#status')} ${JSON.stringify((await b.snapshot()).debug)} ${b.consoleLines.join('\n')}`); });
    assert.deepEqual((await b.snapshot()).zoom, [200, 400]);
    await same(a, b, 'zoomed');
    // smoothing off: raw lines (min / max / first / last per pixel)
    for (const v of [a, b]) await v.page.evaluate(() => { const r = document.getElementById('smoothing') as HTMLInputElement; r.value = '0'; r.dispatchEvent(new Event('input')); });
    await same(a, b, 'no smoothing');
    // hover: the same "name: value" rows (the bucketed page asks the host for the nearest points)
    const hover = async (v: Opened) => {
      const pt = await v.page.evaluate(() => (window as any).__rlLens.instance.panelPoint('kl', 277.3));
      await v.page.mouse.move(pt.x, pt.y);
      const box = v.page.locator('[data-panel="kl"] .hover-values');
      await box.waitFor({ state: 'visible', timeout: 3000 }).catch(async (e) => { throw new Error(`${v === a ? 'a' : 'b'}: ${e} ${JSON.stringify((await v.snapshot()).cursor)} ${JSON.stringify((await v.snapshot()).debug)} ${v.pageErrors}`); });
      return box.textContent();
    };
    const ha = await hover(a), hb = await hover(b);
    assert.match(ha!, /^step 277/);
    assert.equal(hb, ha);
    for (const v of [a, b]) await v.page.mouse.move(2, 2);
    // live, all steps in view: three lines appended, each page's follower reads them and the page appends them
    for (const v of [a, b]) await v.page.click('#reset-zoom');
    const lines = [601, 602, 603].map((s) => ({ step: s, time: s * 1.7, values: { 'reward/mean': 3, kl: 0.5 } }));
    fs.appendFileSync(path.join(run, 'metrics.jsonl'), lines.map((l) => JSON.stringify(l) + '\n').join(''));
    for (const v of [a, b]) {
      const p = v.followers.get(dir)!.poll();
      assert.deepEqual(p.records.map((r) => r.step), [601, 602, 603]);
      await v.post({ kind: 'notification', method: 'metrics/append', params: { runDir: dir, records: p.records, evals: p.evals } });
    }
    await same(a, b, 'after live appends');
    assert.equal((await b.snapshot()).runs[0].maxStep, 603);
    // CSV of the kl panel: every raw value (the bucketed page fetches the series whole)
    const csv = async (v: Opened) => {
      await v.page.locator('[data-panel="kl"] [data-action="csv"]').click();
      await v.page.waitForFunction(() => (window as any).__rlLens.snapshot().debug.lastExport?.path, undefined, { timeout: 5000 });
      return v.saved.at(-1)!.bytes.toString('utf8');
    };
    const ca = await csv(a), cb = await csv(b);
    assert.equal(ca.trim().split('\n').length, 1 + 603);
    assert.equal(cb, ca);
    assert.deepEqual(b.pageErrors, []);
  });
});
