// The RL Lens shell in the real workbench: activity-bar icon, the Runs view, the command palette.
import { test, assert } from './framework';

test('RL Lens activity-bar icon shows', async ({ wb, screenshot }) => {
  await wb.waitForWorkbench({ container: 'RL Lens' });
  assert.ok(await wb.activityBarItem('RL Lens').isVisible(), 'RL Lens icon not visible in the activity bar');
  await screenshot('activity-bar', wb.page.locator('.part.activitybar'));
});

test('Runs view opens from the activity bar', async ({ wb, screenshot }) => {
  await wb.openViewContainer('RL Lens');
  const view = wb.treeView('Runs');
  await view.waitFor({ state: 'visible', timeout: 20_000 });
  const title = (await wb.page.locator('.part.sidebar .composite.title').textContent())?.trim() ?? '';
  assert.match(title, /RL LENS/i, `side bar title is "${title}"`);
  await screenshot('runs-view');
});

test("command palette lists 'RL Lens: Start Run…'", async ({ wb, screenshot }) => {
  const labels = await wb.paletteItems('RL Lens: Start Run');
  await screenshot('palette-start-run');
  await wb.closeQuickInput();
  assert.ok(labels.includes('RL Lens: Start Run…'), `palette shows: ${JSON.stringify(labels)}`);
});
