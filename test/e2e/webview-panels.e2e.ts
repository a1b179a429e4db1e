// The webviews in the real workbench (code-server): token heatmap of a GRPO and a PPO run, the credit drill-down,
// the group view, and the dashboard following a run that is still being written.
import * as fs from 'fs';
import * as path from 'path';
import { test, configure, assert, poll } from './framework';
import { makeRun } from '../fixtures/makeRun';

configure({
  workspace: (dir) => {
    makeRun({ dir: path.join(dir, 'runs', 'grpo-demo'), algorithm: 'grpo', steps: 20, seed: 21 });
    makeRun({ dir: path.join(dir, 'runs', 'ppo-demo'), algorithm: 'ppo', steps: 20, groups: 4, groupSize: 4, seed: 22, status: 'running' });
  },
  settings: { 'rlLens.runsFolders': ['runs'] },
  timeout: 120_000,
});

/** the webview of the active editor (hidden webviews of other tabs stay in the DOM) */
function activeFrame(wb: import('./framework').Workbench) {
  return wb.page.locator('iframe.webview.ready:visible').first().contentFrame().frameLocator('iframe#active-frame');
}

/** click the centre of a heatmap cell (grid coordinates; header sizes as drawn by src/webview/views/grid.ts) */
async function clickCell(frame: ReturnType<typeof activeFrame>, row: number, token: number, headerW = 150): Promise<void> {
  await frame.locator('#grid').click({ position: { x: headerW + token * 48 + 24, y: 18 + row * 20 + 10 } });
}

test('token heatmap of a GRPO run opens from the palette, draws, and the drill-down adds up', async ({ wb, screenshot }) => {
  await wb.waitForWorkbench({ container: 'RL Lens' });
  await wb.runCommand('RL Lens: Show Token Heatmap');
  await wb.answerInput('grpo synthetic');
  await wb.page.locator('.quick-input-widget .quick-input-title', { hasText: 'rollout step' }).waitFor({ timeout: 10_000 });
  await wb.answerInput('step 20');
  await wb.waitForTab('Token Heatmap');
  const frame = activeFrame(wb);
  const status = await poll('heatmap status', async () => { const t = (await frame.locator('#status').textContent().catch(() => '')) ?? ''; return /24 of 24 samples/.test(t) ? t : undefined; }, 30_000);
  assert.match(status, /step 20 · 24 of 24 samples · 6 groups · grpo/);
  assert.match((await frame.locator('#legend-info').textContent())!, /diverging, centred on 0 .* raw range \[/);
  await clickCell(frame, 2, 3);
  await frame.locator('#drill h3').waitFor();
  assert.match((await frame.locator('#drill h3').textContent())!, /GRPO credit for sample 2/);
  assert.ok(await frame.locator('#drill .checks li.ok').count() >= 2);
  assert.equal(await frame.locator('#drill .checks li.bad').count(), 0);
  await screenshot('heatmap-grpo');
});

test('PPO run: the drill-down explains a token advantage with GAE terms that add up', async ({ wb, screenshot }) => {
  await wb.runCommand('RL Lens: Show Token Heatmap');
  await wb.answerInput('ppo synthetic');
  await wb.page.locator('.quick-input-widget .quick-input-title', { hasText: 'rollout step' }).waitFor({ timeout: 10_000 });
  await wb.answerInput('step 20');
  const frame = activeFrame(wb);
  await poll('ppo step shown', async () => /· ppo$/.test(((await frame.locator('#status').textContent().catch(() => '')) ?? '').trim()) || undefined, 30_000);
  await clickCell(frame, 1, 2);
  await poll('PPO drill-down', async () => /PPO credit for token 2 of sample 1/.test((await frame.locator('#drill h3').textContent().catch(() => '')) ?? '') || undefined);
  assert.match((await frame.locator('#drill').textContent())!, /Σ = A_t/);
  assert.equal(await frame.locator('#drill .checks li.ok').count(), 4);
  assert.equal(await frame.locator('#drill .checks li.bad').count(), 0);
  await screenshot('heatmap-ppo-drilldown');
});

test('group view shows the G completions with rewards, parts, advantages and group statistics', async ({ wb, screenshot }) => {
  await wb.runCommand('RL Lens: Show Group View');
  await wb.answerInput('grpo synthetic');
  await wb.page.locator('.quick-input-widget .quick-input-title', { hasText: 'rollout step' }).waitFor({ timeout: 10_000 });
  await wb.answerInput('step 20');
  await wb.waitForTab('Group View');
  const frame = activeFrame(wb);
  await frame.locator('#group-table').waitFor({ timeout: 30_000 });
  assert.equal(await frame.locator('#group-table tr').count(), 5, 'header + 4 completions');
  assert.match((await frame.locator('#group-stats').textContent())!, /n = 4 · mean .* std .*\(unbiased\)/);
  assert.match((await frame.locator('#group-table tr').first().textContent())!, /reward.*accuracy.*format.*advantage/);
  await screenshot('group-view');
});

test('dashboard follows a live run: appended metric lines appear without reopening', async ({ wb, workspace, screenshot }) => {
  await wb.runCommand('RL Lens: Show Dashboard');
  // several runs: a multi-select quick pick; choose the PPO run only
  await wb.page.locator('.quick-input-widget .quick-input-title', { hasText: 'runs to show' }).waitFor({ timeout: 10_000 });
  await wb.pickQuickItem(/ppo synthetic/);
  await wb.page.keyboard.press('Enter');
  await wb.waitForTab('Dashboard');
  const frame = activeFrame(wb);
  await poll('dashboard panels', async () => (await frame.locator('[data-panel]').count()) >= 8 || undefined, 30_000);
  const ids = await frame.locator('[data-panel]').evaluateAll((els) => els.map((e) => e.getAttribute('data-panel')));
  for (const want of ['reward', 'kl', 'entropy', 'clipping', 'lengths', 'losses', 'optim', 'eval']) assert.ok(ids.includes(want), `${want} in ${ids}`);
  assert.match((await frame.locator('#status').textContent())!, /last step 20/);
  const metrics = path.join(workspace, 'runs', 'ppo-demo', 'metrics.jsonl');
  for (const s of [21, 22, 23]) fs.appendFileSync(metrics, JSON.stringify({ step: s, values: { 'reward/mean': 0.95, kl: 0.03, entropy: 0.5 } }) + '\n');
  await poll('streamed steps shown', async () => /last step 23/.test((await frame.locator('#status').textContent()) ?? '') || undefined, 20_000);
  await screenshot('dashboard-live');
});
