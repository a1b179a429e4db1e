// Screenshots of the webviews for docs/images (real bundle in headless Chromium, fake host, synthetic runs).
// Run: node --import tsx scripts/screenshots-webview.mjs
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { launch, openView } = await import(path.join(root, 'test/browser/harness.ts'));
const { makeRun } = await import(path.join(root, 'test/fixtures/makeRun.ts'));
const outDir = path.join(root, 'docs', 'images');
fs.mkdirSync(outDir, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-shots-'));
const grpo = makeRun({ dir: path.join(tmp, 'grpo-arith'), algorithm: 'grpo', steps: 60, groups: 8, groupSize: 6, maxLen: 30, seed: 7 });
const ppo = makeRun({ dir: path.join(tmp, 'ppo-arith'), algorithm: 'ppo', steps: 60, groups: 8, groupSize: 4, maxLen: 30, seed: 8 });
const browser = await launch();
const shots = [];
async function shot(name, o, act) {
  const v = await openView(browser, { width: 1400, height: 800, ...o });
  await v.ready();
  await v.page.waitForTimeout(200);
  if (act) await act(v);
  await v.page.waitForTimeout(150);
  const file = path.join(outDir, `${name}.png`);
  await v.page.screenshot({ path: file });
  shots.push(path.relative(root, file));
  await v.page.context().close();
}
const clickCell = async (v, s, t, hover) => {
  const r = await v.page.evaluate(async ([a, b]) => { const q = await window.__rlLens.instance.cellRect(a, b); return { x: q.x, y: q.y, w: q.width, h: q.height }; }, [s, t]);
  await v.page.mouse.click(r.x + r.w / 2, r.y + r.h / 2);
  if (hover) { const h = await v.page.evaluate(async ([a, b]) => { const q = await window.__rlLens.instance.cellRect(a, b); return { x: q.x, y: q.y, w: q.width, h: q.height }; }, hover); await v.page.mouse.move(h.x + h.w / 2, h.y + h.h / 2); }
};
try {
  await shot('heatmap-ppo-dark', { view: 'heatmap', runs: [ppo], theme: 'dark' }, (v) => clickCell(v, 5, 6, [9, 3]));
  await shot('heatmap-grpo-light', { view: 'heatmap', runs: [grpo], theme: 'light' }, (v) => clickCell(v, 7, 4));
  await shot('group-grpo-light', { view: 'group', runs: [grpo], target: { runDir: grpo, group: 'g2' }, theme: 'light' }, (v) => clickCell(v, 13, 8));
  await shot('dashboard-dark', { view: 'dashboard', runs: [ppo, grpo], theme: 'dark' });
  await shot('heatmap-high-contrast', { view: 'heatmap', runs: [grpo], theme: 'high-contrast' }, async (v) => {
    await v.page.evaluate(() => { const e = document.getElementById('metric'); e.value = 'entropy'; e.dispatchEvent(new Event('change')); });
  });
} finally {
  await browser.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(shots.join('\n'));
