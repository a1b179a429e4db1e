// The RL Lens shell as a new user meets it, in a real workbench (code-server + Chromium) with the extension
// installed as the .vsix would install it: the welcome, Start Run from the palette with a built-in preset, the
// run in the Runs tree and the status bar, Stop Run, an old run from the runs folder, Open Run….
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, configure, assert, poll, repoRoot, type Workbench } from './framework';

/** Runs a palette command by its exact title (reads only each row's main label: rows reused from quick picks
 *  with details keep a hidden second .label-name). */
async function palette(wb: Workbench, title: string): Promise<void> {
  const input = wb.page.locator('.quick-input-widget input.input');
  if (!(await input.isVisible().catch(() => false))) { await wb.page.keyboard.press('F1'); await input.waitFor({ state: 'visible', timeout: 10_000 }); }
  await input.fill(`>${title}`);
  const rows = wb.page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
  const row = await poll(`palette row "${title}"`, async () => {
    const n = await rows.count();
    for (let i = 0; i < n; i++) if (((await rows.nth(i).locator('.label-name').first().textContent()) ?? '').trim() === title) return rows.nth(i);
    return undefined;
  }, 10_000);
  await row.click();
}

const OLD = 'old-run';
configure({
  timeout: 120_000,
  workspace: (dir) => {
    // an "old" run written before this VS Code started (by the test-edge fake trainer: same format, instant)
    const cfg = path.join(dir, '.old.json');
    fs.writeFileSync(cfg, JSON.stringify({ name: OLD, algorithm: 'grpo', task: 'arithmetic', fake: { steps: 2, delayMs: 1 } }));
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'test/fixtures/fake-trainer.js'), 'train', '--config', cfg, '--out', path.join(dir, 'runs', OLD)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`fake trainer failed: ${r.stderr}`);
    fs.rmSync(cfg);
    // a finished run outside the workspace, for Open Run…
    const outside = path.join(path.dirname(dir), `${path.basename(dir)}-elsewhere`);
    fs.cpSync(path.join(dir, 'runs', OLD), outside, { recursive: true });
    const m = JSON.parse(fs.readFileSync(path.join(outside, 'manifest.json'), 'utf8'));
    fs.writeFileSync(path.join(outside, 'manifest.json'), JSON.stringify({ ...m, name: 'opened-from-elsewhere' }));
  },
});

test('the Runs view lists the old run of the runs folder, with its status', async ({ wb, screenshot }) => {
  await wb.waitForWorkbench({ container: 'RL Lens' });
  await wb.openViewContainer('RL Lens');
  const row = wb.treeItem('Runs', OLD);
  await row.waitFor({ state: 'visible', timeout: 30_000 });
  assert.match((await row.textContent()) ?? '', /grpo · arithmetic · 2\/2/);
  assert.equal(await row.locator('.codicon-pass').count(), 1, 'completed runs show the pass icon');
  await screenshot('old-run');
});

test('Start Run… from the palette with the tiny preset runs to completion; tree and status bar follow', async ({ wb, screenshot, log }) => {
  const t0 = Date.now();
  await palette(wb, 'RL Lens: Start Run…');
  await screenshot('start-run-pick');
  await wb.pickQuickItem(/SFT · arithmetic · tiny/);
  const row = wb.treeItem('Runs', 'sft-tiny');
  await row.waitFor({ state: 'visible', timeout: 30_000 });
  const bar = await poll('the status bar to show the run', async () => (await wb.statusBarTexts()).find((t) => /RL Lens/.test(t)), 30_000);
  log(`status bar: ${bar}`);
  await poll('the run to complete', async () => (await row.locator('.codicon-pass').count()) === 1, 90_000)
    .catch(async (e) => { await screenshot('start-run-timeout'); throw e; });
  log(`tiny preset run completed in ${Date.now() - t0} ms (palette to pass icon)`);
  assert.match((await row.textContent()) ?? '', /sft · arithmetic · 20\/20/);
  await wb.expand(row);
  await wb.treeItem('Runs', 'Checkpoints').waitFor({ state: 'visible' });
  const steps = wb.treeItem('Runs', 'Steps');
  await steps.waitFor({ state: 'visible' });
  await wb.expand(steps);
  await wb.treeItem('Runs', /^step \d+/).waitFor({ state: 'visible' });
  assert.match((await wb.statusBarTexts()).find((t) => /RL Lens/.test(t)) ?? '', /20\/20/);
  await screenshot('tiny-run-done');
});

test('Stop Run from the palette stops a running run (status stopped)', async ({ wb, screenshot, log }) => {
  await palette(wb, 'RL Lens: Start Run…');
  await wb.pickQuickItem(/SFT · arithmetic \(~\d+ (s|min)\)/); // the label carries its measured duration (src/shared/presets.ts)
  const row = wb.treeItem('Runs', 'sft-arithmetic');
  await poll('the long run to make progress', async () => /\b[1-9]\d*\/400\b/.test((await row.textContent()) ?? ''), 60_000);
  const t0 = Date.now();
  await palette(wb, 'RL Lens: Stop Run');
  // (the row's inline Stop action also shows a debug-stop icon: wait for the status text instead)
  await poll('the run to show as stopped', async () => /stopped/.test((await row.textContent()) ?? ''), 60_000)
    .catch(async (e) => { await screenshot('stop-timeout'); throw e; });
  log(`stopped ${Date.now() - t0} ms after Stop Run`);
  assert.equal(await row.locator('.custom-view-tree-node-item-icon.codicon-debug-stop, .custom-view-tree-node-item-icon .codicon-debug-stop').count(), 1, 'stopped icon');
  await screenshot('stopped');
});

test('Open Run… opens a run folder from elsewhere', async ({ wb, workspace, screenshot }) => {
  const outside = path.join(path.dirname(workspace), `${path.basename(workspace)}-elsewhere`);
  await palette(wb, 'RL Lens: Open Run…');
  // the simple file dialog pre-fills the workspace path (asynchronously): wait for it, then replace it
  await wb.fillFileDialog(outside + '/');
  // the simple file dialog may navigate into the folder first: accept it with Enter / OK
  const row = wb.treeItem('Runs', 'opened-from-elsewhere');
  await poll('the opened run in the tree', async () => {
    if (await row.isVisible().catch(() => false)) return true;
    const ok = wb.page.locator('.quick-input-widget .quick-input-action .monaco-button, .quick-input-widget a.monaco-button').filter({ hasText: /Open Run|OK/ });
    if (await ok.first().isVisible().catch(() => false)) await ok.first().click().catch(() => {});
    return undefined;
  }, 30_000).catch(async (e) => { await screenshot('open-run-timeout'); throw e; });
  await screenshot('opened');
});
