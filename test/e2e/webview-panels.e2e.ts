// The webviews in the real workbench (code-server): token heatmap of a GRPO and a PPO run, the credit drill-down,
// the group view, and the dashboard following a run that is still being written.
import * as fs from 'fs';
import * as path from 'path';
import { test, configure, assert, poll } from './framework';
import { makeRun } from '../fixtures/makeRun';
import { readRolloutStep } from '../../src/runio/reader';
import { synthRun, writeSynthRun } from '../unit/doctor-synth';

configure({
  workspace: (dir) => {
    makeRun({ dir: path.join(dir, 'runs', 'grpo-demo'), algorithm: 'grpo', steps: 20, seed: 21 });
    makeRun({ dir: path.join(dir, 'runs', 'ppo-demo'), algorithm: 'ppo', steps: 20, groups: 4, groupSize: 4, seed: 22, status: 'running' });
    // sample finding: 10 groups, seed 34: step 20 has completions whose advantage is positive but whose format part is 0
    const find = makeRun({ dir: path.join(dir, 'runs', 'find-demo'), algorithm: 'grpo', steps: 20, groups: 10, seed: 34 });
    const mf = path.join(find, 'manifest.json');
    fs.writeFileSync(mf, JSON.stringify({ ...JSON.parse(fs.readFileSync(mf, 'utf8')), name: 'finding demo' }, null, 2));
    // a run the doctor has findings for (a KL blow-up)
    writeSynthRun(path.join(dir, 'runs', 'kl-demo'), synthRun(3, 'kl-blowup', { groups: 8, rolloutEvery: 4, steps: 120 })).updateManifest({ status: 'completed', name: 'doctor demo' });
  },
  settings: { 'rlLens.runsFolders': ['runs'] },
  timeout: 120_000,
});

/** the webview of the active editor (hidden webviews of other tabs stay in the DOM) */
function activeFrame(wb: import('./framework').Workbench) {
  return wb.page.locator('iframe.webview.ready:visible').first().contentFrame().frameLocator('iframe#active-frame');
}

/** click the centre of a heatmap cell (grid coordinates; header sizes as drawn by src/webview/views/grid.ts; the
 *  heatmap's row headers are 280 px wide: they show the prompt) */
async function clickCell(frame: ReturnType<typeof activeFrame>, row: number, token: number, headerW = 280): Promise<void> {
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
  // issue 16 Broken 2: the run ends (only the manifest's status changes, no new metric line): the header follows live
  const runsText = async () => (await frame.locator('#runs').textContent()) ?? '';
  assert.match(await runsText(), /\(running\)/);
  const manifest = path.join(workspace, 'runs', 'ppo-demo', 'manifest.json');
  fs.writeFileSync(manifest, JSON.stringify({ ...JSON.parse(fs.readFileSync(manifest, 'utf8')), status: 'completed' }));
  await poll('status completed in the header', async () => /\(completed\)/.test(await runsText()) || undefined, 20_000);
  assert.doesNotMatch(await runsText(), /running/);
});

test('dashboard legend: click hides a series, double-click isolates; the metric search keeps only matching panels', async ({ wb, screenshot }) => {
  const frame = activeFrame(wb);
  const item = (panel: string, name: string) => frame.locator(`[data-panel="${panel}"] .legend-item[data-name="${name}"]`);
  await item('kl', 'kl').click();
  await poll('kl hidden', async () => (await item('kl', 'kl').getAttribute('aria-pressed')) === 'false' || undefined, 5_000);
  await item('kl', 'kl').click();
  await poll('kl shown', async () => (await item('kl', 'kl').getAttribute('aria-pressed')) === 'true' || undefined, 5_000);
  await item('reward', 'reward/std').dblclick();
  await poll('reward/std isolated', async () => {
    const pressed = await frame.locator('[data-panel="reward"] .legend-item').evaluateAll((els) => els.map((e) => `${e.getAttribute('data-name')}=${e.getAttribute('aria-pressed')}`));
    return pressed.length > 1 && pressed.every((p) => p.startsWith('reward/std=') ? p.endsWith('true') : p.endsWith('false')) ? pressed : undefined;
  }, 5_000);
  await frame.locator('#metric-filter input').fill('clip');
  const ids = await poll('only panels with "clip" metrics', async () => {
    const v = await frame.locator('[data-panel]').evaluateAll((els) => els.map((e) => e.getAttribute('data-panel')));
    return v.length === 2 ? v : undefined;
  }, 10_000);
  assert.deepEqual(ids, ['lengths.fraction', 'clipping']);
  assert.match((await frame.locator('#metric-filter-note').textContent())!, /^3 of \d+ metrics$/);
  await screenshot('dashboard-legend-search');
});

/** choose a value of a vscode-single-select in the webview (as the browser tests do: set it and fire change) */
async function choose(frame: ReturnType<typeof activeFrame>, id: string, value: string): Promise<void> {
  await frame.locator(`#${id}`).evaluate((e, v) => { (e as HTMLElement & { value: string }).value = v; e.dispatchEvent(new Event('change')); }, value);
}
const statusOf = async (frame: ReturnType<typeof activeFrame>) => ((await frame.locator('#status').textContent().catch(() => '')) ?? '');

test('heatmap: switching STEP drops the old step\'s drill-down and pinned token and retitles the tab', async ({ wb, screenshot }) => {
  await wb.runCommand('RL Lens: Show Token Heatmap');
  await wb.answerInput('grpo synthetic');
  await wb.page.locator('.quick-input-widget .quick-input-title', { hasText: 'rollout step' }).waitFor({ timeout: 10_000 });
  await wb.answerInput('step 20');
  const frame = activeFrame(wb);
  await poll('step 20 shown', async () => /step 20 · 24 of 24 samples/.test(await statusOf(frame)) || undefined, 30_000);
  await clickCell(frame, 9, 2);
  await poll('drill-down of sample 9', async () => /credit for sample 9/.test((await frame.locator('#drill h3').textContent().catch(() => '')) ?? '') || undefined);
  await poll('tab titled step 20', async () => (await wb.tabTitles()).some((t) => /Token Heatmap: grpo synthetic.* step 20\b/.test(t)) || undefined);
  // the step picker marks the steps that have per-token traces
  assert.match((await frame.locator('#step vscode-option[value="15"]').textContent())!, /step 15 ●/);
  await choose(frame, 'step', '15');
  await poll('step 15 shown', async () => /step 15 · 24 of 24 samples/.test(await statusOf(frame)) || undefined, 30_000);
  assert.equal(await frame.locator('#drill h3').count(), 0, 'no drill-down of step 20 left');
  assert.match((await frame.locator('#drill').textContent())!, /Click a token to pin it/);
  const pinned = await frame.locator('body').evaluate(() => (window as unknown as { __rlLens: { snapshot(): { pinned: unknown } } }).__rlLens.snapshot().pinned);
  assert.equal(pinned, null, 'no pinned highlight on step 15\'s sample 9');
  await poll('tab retitled step 15', async () => (await wb.tabTitles()).some((t) => /Token Heatmap: grpo synthetic.* step 15\b/.test(t)) || undefined, 10_000);
  await screenshot('heatmap-step-switch');
});

test('finding samples: advantage > 0 but reward part format = 0, then Export JSONL writes exactly those', async ({ wb, workspace, screenshot }) => {
  await wb.runCommand('RL Lens: Show Token Heatmap');
  await wb.answerInput('finding demo');
  await wb.page.locator('.quick-input-widget .quick-input-title', { hasText: 'rollout step' }).waitFor({ timeout: 10_000 });
  await wb.answerInput('step 20');
  const frame = activeFrame(wb);
  await poll('step 20 shown', async () => /step 20 · 40 of 40 samples · 10 groups/.test(await statusOf(frame)) || undefined, 30_000);
  const st = readRolloutStep(path.join(workspace, 'runs', 'find-demo'), 20);
  const want = st.samples.map((s, i) => ((s.advantage ?? 0) > 0 && s.rewardParts?.format === 0 ? i : -1)).filter((i) => i >= 0);
  assert.ok(want.length >= 2, `fixture: ${want}`);
  // row headers show prompts, not group ids; the group picker too
  const g0 = st.header.groups[0];
  assert.ok(((await frame.locator(`#group vscode-option[value="${g0.id}"]`).textContent()) ?? '').startsWith(g0.prompt.slice(0, 8)));
  await choose(frame, 'f-adv', 'pos');
  await choose(frame, 'f-part', 'format');
  await frame.locator('#f-part-range input').fill('0'); // typed, as a user does
  await poll('filtered rows', async () => new RegExp(`step 20 · ${want.length} of 40 samples`).test(await statusOf(frame)) || undefined, 10_000);
  const rows = await frame.locator('body').evaluate(() => (window as unknown as { __rlLens: { snapshot(): { rows: number[] } } }).__rlLens.snapshot().rows);
  assert.deepEqual(rows, want);
  await screenshot('heatmap-find-samples');
  // export what is shown: the host asks where (save dialog) and writes JSONL
  const out = path.join(workspace, 'found.jsonl');
  await frame.locator('#export').click();
  await wb.fillFileDialog(out); // Enter saves (the dialog closes itself)
  await poll('exported file', async () => fs.existsSync(out) || undefined, 15_000);
  const lines = fs.readFileSync(out, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.sample), want);
  for (const l of lines) { assert.ok(l.advantage > 0); assert.equal(l.rewardParts.format, 0); assert.equal(l.step, 20); }
  await poll('status names the file', async () => /exported \d+ sample\(s\) of step 20 to .*found\.jsonl/.test(await statusOf(frame)) || undefined, 10_000);
});

test('Diagnose Run from the palette with the run selected in the Runs view: the findings list opens and stays', async ({ wb, screenshot }) => {
  await wb.waitForWorkbench({ container: 'RL Lens' });
  await wb.openViewContainer('RL Lens');
  const row = wb.treeItem('Runs', 'doctor demo');
  await row.waitFor({ state: 'visible', timeout: 20_000 });
  await row.click();
  await wb.page.waitForTimeout(500);
  await wb.runCommand('RL Lens: Diagnose Run');
  const title = wb.page.locator('.quick-input-widget .quick-input-title', { hasText: 'RL Lens doctor' });
  await title.waitFor({ timeout: 30_000 });
  // the Runs view refreshes its Diagnosis node as the list opens: the list must not close when the tree takes focus
  await wb.page.waitForTimeout(2000);
  assert.ok(await title.isVisible(), 'the findings list is still open 2 s later');
  const items = await wb.page.locator('.quick-input-widget .monaco-list-row').allTextContents();
  assert.ok(items.some((t) => /KL/i.test(t)), `a KL finding among ${JSON.stringify(items)}`);
  await screenshot('diagnose-run-from-tree');
  await wb.closeQuickInput();
});
