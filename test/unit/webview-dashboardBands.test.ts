// Browser test of the doctor's dashboard annotations in the REAL webview bundle (headless Chromium, fake host as in
// webview-browser.test.ts): `doctor/annotations` draws a shaded band over the finding's steps on the charts of the
// metrics it names (checked on screen pixels: inside the band the plot background is blended with the severity colour
// at the CSS opacity 0.16, outside it is not), the hover box names the finding, and a finding's evidence target
// (stepRange / finding) zooms the dashboard there. Also: a heatmap target with `metric` + `sample` selects both.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Browser } from 'playwright-core';
import { chromiumMissing, launch, openView, pixelAt, type Opened } from '../browser/harness';
import { makeRun } from '../fixtures/makeRun';

const missing = chromiumMissing();
if (missing) test(`dashboard band browser tests (${missing})`, { skip: missing }, () => undefined);

describe('doctor annotations in headless Chromium', { skip: missing }, () => {
  let browser: Browser;
  let tmp: string, grpo: string;
  const opened: Opened[] = [];
  const open = async (o: Parameters<typeof openView>[1]) => { const v = await openView(browser, o); opened.push(v); await v.ready(); return v; };

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-bands-'));
    grpo = makeRun({ dir: path.join(tmp, 'grpo'), algorithm: 'grpo', steps: 20, seed: 3 });
    browser = await launch();
  });
  after(async () => {
    for (const v of opened) await v.page.context().close().catch(() => undefined);
    await browser?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('a finding is drawn as a band of its severity colour over its steps, on the charts of its metrics only; hover names it', async () => {
    const v = await open({ view: 'dashboard', runs: [grpo] });
    let snap = await v.snapshot();
    const kl = snap.panels.find((p: { id: string }) => p.id === 'kl');
    assert.ok(kl, `kl panel in ${snap.panels.map((p: { id: string }) => p.id)}`);
    const metric = kl.names[0] as string;
    const [d0, d1] = kl.x as [number, number];
    const runDir = path.resolve(grpo);
    await v.post({ kind: 'notification', method: 'doctor/annotations', params: { runDir, annotations: [{ id: 'kl/blowup', severity: 'error', title: 'KL blow-up <b>', from: 6, to: 10, metrics: [metric] }] } });
    await v.page.waitForFunction(() => document.querySelectorAll('rect.annotation').length > 0, undefined, { timeout: 5000 });
    snap = await v.snapshot();
    for (const p of snap.panels) assert.equal(p.bands.length, p.names.includes(metric) ? 1 : 0, `bands on panel ${p.id}`);
    assert.equal(await v.page.locator('rect.annotation').count(), snap.panels.filter((p: { names: string[] }) => p.names.includes(metric)).length);
    // geometry: the SVG rect spans x(6)..x(10) of the kl chart (same linear scale as the axis)
    const geo = await v.page.evaluate(() => {
      const r = document.querySelector('[data-panel="kl"] rect.annotation')!.getBoundingClientRect();
      const s = document.querySelector('[data-panel="kl"] svg')!.getBoundingClientRect();
      return { x: r.x - s.x, w: r.width, top: r.y, h: r.height, svgX: s.x, svgW: s.width };
    });
    const xOf = (step: number) => 48 + ((step - d0) / (d1 - d0)) * (geo.svgW - 48 - 44);
    assert.ok(Math.abs(geo.x - xOf(6)) < 0.5 && Math.abs(geo.x + geo.w - xOf(10)) < 0.5, `band ${geo.x}+${geo.w} vs ${xOf(6)}..${xOf(10)}`);
    // pixels: the band blends the theme's error colour over the background at opacity 0.16
    const fill = await v.page.evaluate(() => getComputedStyle(document.querySelector('[data-panel="kl"] rect.annotation')!).fill);
    const errRgb = (fill.match(/\d+/g) ?? []).slice(0, 3).map(Number);
    assert.equal(errRgb.length, 3, fill);
    const xIn = Math.round(geo.svgX + geo.x + geo.w / 2), xOut = Math.round(geo.svgX + xOf(15));
    let matched = 0, candidates = 0;
    for (let y = Math.round(geo.top + 3); y < geo.top + geo.h - 3; y += 9) {
      const out = await pixelAt(v.page, xOut, y);
      if (out.some((c) => c < 250)) continue; // a curve passes here: not plain background
      candidates++;
      const inside = await pixelAt(v.page, xIn, y);
      const want = out.map((b, k) => b + (errRgb[k] - b) * 0.16);
      if (inside.every((c, k) => Math.abs(c - want[k]) <= 3)) matched++;
    }
    assert.ok(candidates >= 3, `background rows found: ${candidates}`);
    assert.ok(matched >= Math.ceil(candidates / 2), `band colour at ${matched} of ${candidates} rows`);
    // hover: the tip names the finding (as text: no HTML injection)
    await v.page.mouse.move(xIn, Math.round(geo.top + geo.h / 2));
    const tip = v.page.locator('[data-panel="kl"] .annotation-tip');
    await tip.waitFor({ state: 'visible', timeout: 3000 });
    assert.match((await tip.textContent())!, /KL blow-up <b> \(steps 6–10\)/);
    assert.equal(await v.page.locator('.annotation-tip b').count(), 0);
    // findings changed: an empty list removes the band
    await v.post({ kind: 'notification', method: 'doctor/annotations', params: { runDir, annotations: [] } });
    await v.page.waitForFunction(() => document.querySelectorAll('rect.annotation').length === 0, undefined, { timeout: 5000 });
    // a malformed notification is refused by the protocol check and changes nothing
    await v.post({ kind: 'notification', method: 'doctor/annotations', params: { runDir, annotations: [{ id: 'x', severity: 'fatal', title: 't', from: 1, to: 2, metrics: [metric] }] } });
    await v.page.waitForTimeout(100);
    assert.equal(await v.page.locator('rect.annotation').count(), 0);
    assert.deepEqual(v.pageErrors, []);
  });

  test('evidence target: the dashboard zooms to the finding\'s steps and emphasises its band; the heatmap takes metric + sample', async () => {
    const runDir = path.resolve(grpo);
    const v = await open({ view: 'dashboard', runs: [grpo] });
    const full = (await v.snapshot()).panels[0].x as [number, number];
    const metric = (await v.snapshot()).panels.find((p: { id: string }) => p.id === 'kl').names[0];
    await v.post({ kind: 'notification', method: 'doctor/annotations', params: { runDir, annotations: [{ id: 'kl/blowup', severity: 'warning', title: 'KL', from: 6, to: 10, metrics: [metric] }] } });
    await v.post({ kind: 'notification', method: 'view/show', params: { runDir, finding: 'kl/blowup', stepRange: [6, 10], metrics: [metric] } });
    await v.page.waitForTimeout(150);
    const snap = await v.snapshot();
    // pad = max(1, (10 − 6)/2) = 2 → [4, 12], inside the run's steps
    assert.ok(full[0] <= 4 && full[1] >= 12, JSON.stringify(full));
    assert.deepEqual(snap.zoom, [4, 12]);
    assert.equal(snap.focusFinding, 'kl/blowup');
    assert.equal(await v.page.locator('[data-panel="kl"] rect.annotation.focused').count(), 1);
    const h = await open({ view: 'heatmap', runs: [grpo], target: { runDir: grpo, metric: 'kl', sample: 3 } });
    const hs = await h.snapshot();
    assert.equal(hs.metric, 'kl');
    assert.equal(hs.pinned?.sample, 3);
  });
});
