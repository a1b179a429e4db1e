// Checkpoint diff in the real workbench (code-server), as a user does it: palette → Compare Checkpoints → run →
// base → other → the diff editor shows both reports side by side; screenshot for the docs.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { test, configure, assert, poll, repoRoot } from './framework';

configure({
  workspace: (dir) => {
    // a real GRPO run from the tiny template (SFT warm start + 20 RL steps): checkpoints step_0_sft, 10, 20, 20_final
    const cfg = path.join(dir, 'grpo-tiny.json');
    fs.writeFileSync(cfg, fs.readFileSync(path.join(repoRoot, 'media', 'templates', 'grpo-arithmetic-tiny.jsonc'), 'utf8').split('\n').filter((l) => !/^\s*\/\//.test(l)).join('\n'));
    execFileSync(process.execPath, [path.join(repoRoot, 'bin', 'rl-lens.js'), 'train', '--config', cfg, '--steps', '20', '--out', path.join(dir, 'runs', 'grpo-ckdiff'), '--backend', 'wasm'], { stdio: 'pipe', timeout: 120_000 });
  },
  // CodeLens in diff editors is off by default in VS Code; the lens shows in a report opened on its own either way
  settings: { 'rlLens.runsFolders': ['runs'], 'diffEditor.codeLens': true, 'diffEditor.renderSideBySide': true, 'diffEditor.useInlineViewWhenSpaceIsLimited': false },
  timeout: 150_000,
});

async function waitForPlaceholder(wb: import('./framework').Workbench, text: string): Promise<void> {
  await poll(`quick pick "${text}"`, async () => ((await wb.page.locator('.quick-input-widget input.input').getAttribute('placeholder').catch(() => '')) ?? '').includes(text) || undefined, 15_000);
}

test('Compare Checkpoints from the palette opens the diff editor with both reports', async ({ wb, screenshot }) => {
  await wb.waitForWorkbench({ container: 'RL Lens' });
  await wb.runCommand('RL Lens: Compare Checkpoints');
  await waitForPlaceholder(wb, 'choose a run');
  await wb.answerInput('grpo-arithmetic-tiny');
  await waitForPlaceholder(wb, 'the base (left)');
  await wb.answerInput('step_00000000_sft');
  await waitForPlaceholder(wb, 'Compare step_00000000_sft with');
  await wb.answerInput('step_00000020_final');
  await wb.waitForTab('RL Lens: step 0 ↔ step 20', 60_000);
  const diff = wb.page.locator('.monaco-diff-editor').first();
  await diff.waitFor({ state: 'visible', timeout: 20_000 });
  const text = await poll('report text in both sides', async () => {
    const t = ((await diff.textContent()) ?? '').replace(/\u00a0/g, ' '); // monaco renders spaces as NBSP
    return /step_00000000_sft \(step 0\)/.test(t) && /step_00000020_final \(step 20\)/.test(t) ? t : undefined;
  }, 30_000);
  assert.match(text, /RL Lens checkpoint report/);
  // the diff marks changed lines on both sides
  assert.ok(await diff.locator('.line-insert, .char-insert, .gutter-insert').count() > 0, 'inserted lines are marked');
  await screenshot('checkpoint-diff');
  // layout at 1400×900 (issue 16): readable tab title, no base-vs-itself pane, no boxed U+2212, and no side of the
  // report overflows its pane (tables wrap: nothing is cut off at the right edge)
  assert.deepEqual(wb.page.viewportSize(), { width: 1400, height: 900 });
  const overflow = async () => diff.evaluate((d) => [...d.querySelectorAll('.editor')].map((e) => {
    const v = e.querySelector('.view-lines') as HTMLElement | null;
    return v ? { scroll: v.scrollWidth, client: (e.querySelector('.monaco-scrollable-element') as HTMLElement | null)?.clientWidth ?? v.clientWidth } : null;
  }).filter(Boolean) as { scroll: number; client: number }[]);
  const checkFits = async (where: string) => {
    const sides = await overflow();
    assert.equal(sides.length, 2, 'two sides');
    for (const s of sides) assert.ok(s.scroll <= s.client + 1, `${where}: the report overflows its pane (${s.scroll} px of text in ${s.client} px)`);
  };
  await checkFits('header');
  assert.ok(!/\u2212/.test(text), 'ASCII "-" for minus: VS Code boxes U+2212 as ambiguous');
  assert.equal(await diff.locator('.unicode-highlight, .ambiguous-character').count(), 0, 'no boxed characters');
  const [left, right] = [/step_00000000_sft \(step 0\)/, /step_00000020_final \(step 20\)/];
  assert.ok(left.test(text) && right.test(text), 'base and RL checkpoint side by side, not the base against itself');
  // scroll both sides to the generations and pass@k (find in the modified editor; the diff editor keeps sides in sync)
  await diff.locator('.editor.modified .view-lines').click();
  await wb.page.keyboard.press('Control+f');
  await wb.page.keyboard.type('## Generations');
  await wb.page.keyboard.press('Enter');
  await wb.page.keyboard.press('Escape');
  await poll('generations on screen', async () => /greedy accuracy/.test(((await diff.textContent()) ?? '').replace(/\u00a0/g, ' ')) || undefined, 10_000);
  await checkFits('weights table and generations');
  await screenshot('checkpoint-diff-generations');
  // the CodeLens above the pass@k section opens the base-vs-RL chart
  await wb.page.keyboard.press('Control+f');
  await wb.page.keyboard.type('## pass@k');
  await wb.page.keyboard.press('Enter');
  await wb.page.keyboard.press('Escape');
  const lens = diff.locator('.editor.modified .codelens-decoration a', { hasText: 'Show pass@k chart' }).first(); // the modified (right) side's
  await lens.waitFor({ state: 'visible', timeout: 15_000 });
  await screenshot('checkpoint-diff-passk');
  await lens.click();
  await wb.waitForTab('pass@k: step_00000000_sft vs step_00000020_final', 20_000);
  const frame = wb.page.locator('iframe.webview.ready:visible').first().contentFrame().frameLocator('iframe#active-frame');
  await frame.locator('svg polyline').nth(1).waitFor({ timeout: 20_000 });
  assert.equal(await frame.locator('svg polyline').count(), 2);
  await screenshot('checkpoint-diff-chart');
});
