// The RL Lens shell in the real workbench: activity-bar icon, the Runs view, the command palette.
import { test, assert, poll } from './framework';

test('RL Lens activity-bar icon shows', async ({ wb, screenshot }) => {
  await wb.waitForWorkbench({ container: 'RL Lens' });
  assert.ok(await wb.activityBarItem('RL Lens').isVisible(), 'RL Lens icon not visible in the activity bar');
  await screenshot('activity-bar', wb.page.locator('.part.activitybar'));
});

test('Runs view opens from the activity bar and the extension fills it', async ({ wb, screenshot, log }) => {
  await wb.openViewContainer('RL Lens');
  const view = wb.treeView('Runs');
  await view.waitFor({ state: 'visible', timeout: 20_000 });
  const title = (await wb.page.locator('.part.sidebar .composite.title').textContent())?.trim() ?? '';
  assert.match(title, /RL LENS/i, `side bar title is "${title}"`);
  // the extension must have activated and registered the view's tree provider: either rows or the welcome
  // content, never VS Code's "There is no data provider registered that can provide view data."
  const state = await poll('the Runs view to get content from the extension', async () => {
    const text = ((await view.textContent()) ?? '').replace(/\s+/g, ' ');
    if (/no data provider registered/i.test(text)) return undefined;
    if (await wb.treeRows('Runs').count()) return 'rows';
    if (await view.locator('.welcome-view-content .monaco-button, .welcome-view-content a').count()) return 'welcome';
    return undefined;
  }, 20_000).catch(async (e: Error) => { await screenshot('runs-view'); throw e; });
  log(`Runs view shows ${state}`);
  await screenshot('runs-view');
});

test("command palette lists 'RL Lens: Start Run…'", async ({ wb, screenshot }) => {
  const labels = await wb.paletteItems('RL Lens: Start Run');
  await screenshot('palette-start-run');
  await wb.closeQuickInput();
  assert.ok(labels.includes('RL Lens: Start Run…'), `palette shows: ${JSON.stringify(labels)}`);
});
