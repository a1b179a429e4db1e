// Workspace Trust in a real workbench: the folder opens untrusted (Restricted Mode). Viewing runs works; a
// workspace config that names a custom reward module is refused with an explanation, and nothing starts.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, configure, assert, poll, repoRoot } from './framework';

configure({
  trust: false,
  settings: { 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.banner': 'never' },
  workspace: (dir) => {
    fs.writeFileSync(path.join(dir, 'reward.js'), 'module.exports.reward = (p, c) => c.length;\n');
    fs.writeFileSync(path.join(dir, 'custom.rllens.json'), JSON.stringify({ algorithm: 'sft', task: { name: 'arithmetic', rewardModule: './reward.js' } }, null, 2));
    const cfg = path.join(dir, '.old.json');
    fs.writeFileSync(cfg, JSON.stringify({ name: 'viewable-run', algorithm: 'grpo', task: 'arithmetic', fake: { steps: 2, delayMs: 1 } }));
    const r = spawnSync(process.execPath, [path.join(repoRoot, 'test/fixtures/fake-trainer.js'), 'train', '--config', cfg, '--out', path.join(dir, 'runs', 'viewable')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`fake trainer failed: ${r.stderr}`);
    fs.rmSync(cfg);
  },
});

test('untrusted: runs are still shown', async ({ wb, screenshot }) => {
  await wb.waitForWorkbench({ container: 'RL Lens' });
  await wb.openViewContainer('RL Lens');
  await wb.treeItem('Runs', 'viewable-run').waitFor({ state: 'visible', timeout: 30_000 });
  await screenshot('untrusted-view');
});

test('untrusted: Start Run on a config with a custom reward module is refused, with the reason', async ({ wb, workspace, screenshot }) => {
  await wb.runCommand('RL Lens: Start Run…'); // first quick input of this page: no stale rows
  await wb.pickQuickItem(/custom\.rllens\.json/);
  const text = await wb.waitForNotification(/untrusted workspace/, 20_000);
  await screenshot('untrusted-refused');
  assert.match(text, /task\.rewardModule/);
  await new Promise((r) => setTimeout(r, 1500));
  const runs = fs.readdirSync(path.join(workspace, 'runs'));
  assert.deepEqual(runs, ['viewable'], 'no run folder was created');
  assert.equal(await poll('rows', async () => (await wb.treeRows('Runs').count()) || undefined), 1);
});
