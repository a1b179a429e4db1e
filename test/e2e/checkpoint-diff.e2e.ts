// Checkpoint diff in the real workbench (code-server), as a user does it: palette → Compare Checkpoints → run →
// base → other → the diff editor shows both reports side by side; screenshot for the docs.
import { execFileSync } from 'child_process';
import * as path from 'path';
import { test, configure, assert, poll, repoRoot } from './framework';

configure({
  workspace: (dir) => {
    execFileSync(process.execPath, [path.join(repoRoot, 'bin', 'rl-lens.js'), 'train', '--preset', 'tiny', '--out', path.join(dir, 'runs', 'tiny-ckdiff'), '--backend', 'wasm'], { stdio: 'pipe', timeout: 120_000 });
  },
  settings: { 'rlLens.runsFolders': ['runs'] },
  timeout: 150_000,
});

async function waitForPlaceholder(wb: import('./framework').Workbench, text: string): Promise<void> {
  await poll(`quick pick "${text}"`, async () => ((await wb.page.locator('.quick-input-widget input.input').getAttribute('placeholder').catch(() => '')) ?? '').includes(text) || undefined, 15_000);
}

test('Compare Checkpoints from the palette opens the diff editor with both reports', async ({ wb, screenshot }) => {
  await wb.waitForWorkbench({ container: 'RL Lens' });
  await wb.runCommand('RL Lens: Compare Checkpoints');
  await waitForPlaceholder(wb, 'choose a run');
  await wb.answerInput('tiny-sft');
  await waitForPlaceholder(wb, 'the base (left)');
  await wb.answerInput('step_00000010');
  await waitForPlaceholder(wb, 'Compare step_00000010 with');
  await wb.answerInput('step_00000020_final');
  await wb.waitForTab('RL Lens: step 10 ↔ step 20', 60_000);
  const diff = wb.page.locator('.monaco-diff-editor').first();
  await diff.waitFor({ state: 'visible', timeout: 20_000 });
  const text = await poll('report text in both sides', async () => {
    const t = (await diff.textContent()) ?? '';
    return /step_00000010 \(step 10\)/.test(t) && /step_00000020_final \(step 20\)/.test(t) ? t : undefined;
  }, 30_000);
  assert.match(text, /RL Lens checkpoint report/);
  // the diff marks changed lines on both sides
  assert.ok(await diff.locator('.line-insert, .char-insert, .gutter-insert').count() > 0, 'inserted lines are marked');
  await screenshot('checkpoint-diff');
});
