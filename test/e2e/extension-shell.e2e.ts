// The RL Lens shell as a new user meets it, in a real workbench (code-server + Chromium) with the extension
// installed as the .vsix would install it: the welcome, Start Run from the palette with a built-in preset, the
// run in the Runs tree and the status bar, Stop Run, an old run from the runs folder, Open Run….
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, configure, assert, poll, repoRoot, type Workbench } from './framework';


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
  await wb.runCommand('RL Lens: Start Run…');
  await screenshot('start-run-pick');
  // typing the preset id the README prints finds it (the id is the item's description)
  await wb.page.locator('.quick-input-widget input.input').fill('sft-tiny');
  await poll('one preset to match "sft-tiny"', async () => (await wb.page.locator('.quick-input-widget .quick-input-list .monaco-list-row').count()) === 1 || undefined, 10_000);
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
  await wb.runCommand('RL Lens: Start Run…');
  await wb.pickQuickItem(/SFT · arithmetic \(~\d+ (s|min)\)/); // the label carries its measured duration (src/shared/presets.ts)
  const row = wb.treeItem('Runs', 'sft-arithmetic');
  await poll('the long run to make progress', async () => /\b[1-9]\d*\/400\b/.test((await row.textContent()) ?? ''), 60_000);
  const t0 = Date.now();
  await wb.runCommand('RL Lens: Stop Run');
  // (the row's inline Stop action also shows a debug-stop icon: wait for the status text instead)
  await poll('the run to show as stopped', async () => /stopped/.test((await row.textContent()) ?? ''), 60_000)
    .catch(async (e) => { await screenshot('stop-timeout'); throw e; });
  log(`stopped ${Date.now() - t0} ms after Stop Run`);
  assert.equal(await row.locator('.custom-view-tree-node-item-icon.codicon-debug-stop, .custom-view-tree-node-item-icon .codicon-debug-stop').count(), 1, 'stopped icon');
  await screenshot('stopped');
});

test('Open Run… opens a run folder from elsewhere', async ({ wb, workspace, screenshot }) => {
  const outside = path.join(path.dirname(workspace), `${path.basename(workspace)}-elsewhere`);
  await wb.runCommand('RL Lens: Open Run…');
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

test('warm start: progress in the status bar and the Runs tree; Stop during it stops promptly with a checkpoint', async ({ wb, workspace, screenshot, log }) => {
  await wb.closeQuickInput();
  await wb.runCommand('RL Lens: Start Run…');
  await wb.pickQuickItem(/GRPO · arithmetic \(~\d+ (s|min)\)/); // SFT warm start (400 steps) before RL step 1
  const bar = await poll('the status bar to show the warm start', async () => (await wb.statusBarTexts()).find((t) => /RL Lens · warm start \d+\/\d+/.test(t)), 60_000);
  log(`status bar: ${bar}`);
  const row = wb.treeRows('Runs').filter({ hasText: /^grpo-arithmetic · / }).first();
  const desc = await poll('the run row to show the warm start', async () => { const t = (await row.textContent()) ?? ''; return /warm start \d+\/\d+/.test(t) ? t : undefined; }, 15_000)
    .catch(async (e) => { await screenshot('warm-start-tree-timeout'); throw e; });
  log(`tree: ${desc}`);
  await screenshot('warm-start');
  const t0 = Date.now();
  await wb.runCommand('RL Lens: Stop Run');
  await poll('the run to show as stopped', async () => /stopped/.test((await row.textContent()) ?? ''), 30_000)
    .catch(async (e) => { await screenshot('warm-start-stop-timeout'); throw e; });
  const ms = Date.now() - t0;
  log(`stopped ${ms} ms after Stop Run (during the warm start)`);
  assert.ok(ms < 10_000, `Stop during the warm start took ${ms} ms (the kill timeout is 15 s)`);
  const dirs = fs.readdirSync(path.join(workspace, 'runs')).filter((d) => d.startsWith('grpo-arithmetic-'));
  assert.equal(dirs.length, 1);
  const dir = path.join(workspace, 'runs', dirs[0]);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.status, 'stopped');
  assert.ok(fs.readdirSync(path.join(dir, 'checkpoints')).some((c) => /_stop$/.test(c)), 'a checkpoint written at the stop');
  const end = fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).find((e) => e.type === 'end');
  assert.equal(end?.status, 'stopped', 'the trainer itself ended the run (not "exited without an end event")');
  await screenshot('warm-start-stopped');
});

test('Open Run… on TRL logs: tokens labelled approximate in the heatmap, no spinner, no Stop', async ({ wb, repo, screenshot, log }) => {
  await wb.closeQuickInput();
  await wb.runCommand('RL Lens: Open Run…');
  await wb.fillFileDialog(path.join(repo, 'test/fixtures/importers/trl/Qwen2-0.5B-GRPO') + '/');
  const row = wb.treeItem('Runs', 'Qwen2-0.5B-GRPO');
  await poll('the imported run in the tree', async () => {
    if (await row.isVisible().catch(() => false)) return true;
    const ok = wb.page.locator('.quick-input-widget .quick-input-action .monaco-button, .quick-input-widget a.monaco-button').filter({ hasText: /Open Run|OK/ });
    if (await ok.first().isVisible().catch(() => false)) await ok.first().click().catch(() => {});
    return undefined;
  }, 60_000).catch(async (e) => { await screenshot('trl-open-timeout'); throw e; });
  assert.match((await row.textContent()) ?? '', /from trl/);
  assert.equal(await row.locator('.codicon-sync, .codicon-modifier-spin').count(), 0, 'no spinning "running" icon on an imported run');
  await row.hover();
  assert.equal(await row.locator('.actions .action-label[aria-label*="Stop"]').count(), 0, 'no Stop button on an imported run');
  await row.click(); // selected: the status bar shows it, without a spinner
  const item = wb.page.locator('.part.statusbar .statusbar-item').filter({ hasText: /RL Lens · .*imported/ }).first();
  await item.waitFor({ timeout: 10_000 });
  assert.equal(await item.locator('.codicon-modifier-spin').count(), 0, 'no spinner in the status bar for an imported run');
  await wb.runCommand('RL Lens: Show Token Heatmap');
  await wb.pickQuickItem(/Qwen2-0\.5B-GRPO/);
  await wb.page.locator('.quick-input-widget .quick-input-title', { hasText: 'rollout step' }).waitFor({ timeout: 10_000 });
  await wb.page.keyboard.press('Enter'); // the latest step
  await wb.waitForTab('Token Heatmap: Qwen2-0.5B-GRPO');
  const frame = wb.page.locator('iframe.webview.ready:visible').first().contentFrame().frameLocator('iframe#active-frame');
  const status = await poll('the heatmap status', async () => { const t = (await frame.locator('#status').textContent().catch(() => '')) ?? ''; return /tokens/.test(t) ? t : undefined; }, 30_000);
  log(`status: ${status}`);
  assert.match(status, /APPROXIMATE tokens for \d+ sample/, 'no tokenizer.json: the segmentation says it is approximate');
  const rows = await frame.locator('body').evaluate(() => (window as unknown as { __rlLens: { snapshot(): { rows: number[] } } }).__rlLens.snapshot().rows);
  assert.ok(rows.length > 0, 'the heatmap lists the completions');
  await screenshot('trl-heatmap-approximate');
});
