// "What RL changed, token by token" (issue 21) in the real workbench (code-server + Chromium), as a user does it:
// a short GRPO run on the pretrained stories260K (4 steps, checkpoints at 2 and 4), palette → Compare Checkpoints →
// the diff editor → the CodeLens "Compare tokens: step 2 → step 4" on the report → the completions (rollouts of step 4)
// → the token comparison webview shows the completions' tokens coloured by Δ log-prob, the risers and fallers table
// and the per-sample table; hovering a token shows both log-probs and the top-k under A and B. Then the palette's
// "Compare Tokens with Base / Previous…" against the run's base model (hf:karpathy/tinyllamas/stories260K, resolved
// to ../shared/models here). Both results are cached where the extension looks first (<B>/token-diff/<key>/); a
// reloaded window restores the comparison view.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, configure, assert, poll, repoRoot, type Workbench } from './framework';
import { grpoStoriesPreset } from '../../src/shared/presets';
import { deepMerge } from '../../src/shared/deepMerge';
import { displayToken } from '../../src/webview/data/tokens';
import { tokenCell } from '../../src/webview/data/tokenDiff';
import { readTokenDiffSummary, tokenDiffKey } from '../../src/runio/tokenDiff';

const RUN = 'stories-tokens';
const QUICK = {
  name: RUN,
  train: { steps: 4 },
  rl: { promptsPerStep: 2, groupSize: 4 },
  sampling: { maxNewTokens: 32 },
  eval: { every: 4, numPrompts: 2, samplesPerPrompt: 2, k: [1, 2] },
  rollouts: { every: 1 },
  checkpoint: { every: 2 },
  backend: 'wasm',
};
const localModels = path.join(repoRoot, '..', 'shared', 'models');
const modelsEnv: Record<string, string> = process.env.RL_LENS_MODELS === undefined && fs.existsSync(path.join(localModels, 'stories260K')) ? { RL_LENS_MODELS: localModels } : {};
let runDir = '';

configure({
  timeout: 300_000,
  env: modelsEnv,
  // CodeLens in diff editors is off by default in VS Code
  settings: { 'rlLens.runsFolders': ['runs'], 'diffEditor.codeLens': true, 'diffEditor.renderSideBySide': true, 'diffEditor.useInlineViewWhenSpaceIsLimited': false },
  workspace: (dir) => {
    const cfg = path.join(dir, 'stories-tokens.json');
    fs.writeFileSync(cfg, JSON.stringify(deepMerge(grpoStoriesPreset(), QUICK), null, 2) + '\n');
    runDir = path.join(dir, 'runs', RUN);
    execFileSync(process.execPath, [path.join(repoRoot, 'bin', 'rl-lens.js'), 'train', '--config', cfg, '--out', runDir, '--backend', 'wasm'], { stdio: 'pipe', timeout: 120_000, env: { ...process.env, ...modelsEnv } });
  },
});

function activeFrame(wb: Workbench) {
  return wb.page.locator('iframe.webview.ready:visible').first().contentFrame().frameLocator('iframe#active-frame');
}

async function waitForPlaceholder(wb: Workbench, text: string): Promise<void> {
  await poll(`quick pick "${text}"`, async () => ((await wb.page.locator('.quick-input-widget input.input').getAttribute('placeholder').catch(() => '')) ?? '').includes(text) || undefined, 20_000);
}

/** The view shows tokens, risers / fallers and samples; hover a token: the card names it and lists top-k under A and B. */
async function checkView(wb: Workbench, log: (m: string) => void): Promise<{ tokens: number; stats: number }> {
  const frame = activeFrame(wb);
  const tokens = await poll('tokens in the comparison', async () => { const n = await frame.locator('.td-tok').count().catch(() => 0); return n > 0 ? n : undefined; }, 60_000);
  const stats = await poll('the risers and fallers table', async () => { const n = await frame.locator('#td-stat-table tr.td-stat').count().catch(() => 0); return n > 0 ? n : undefined; }, 10_000);
  const samples = await frame.locator('#td-sample-table tr').count();
  log(`view: ${tokens} tokens on the page, ${stats} risers/fallers rows, ${samples - 1} sample rows; ${(await frame.locator('#td-counts').textContent()) ?? ''}`);
  assert.ok(samples - 1 >= QUICK.rl.promptsPerStep * QUICK.rl.groupSize, 'a row per completion');
  assert.ok((await frame.locator('#td-stat-table tr.riser').count()) + (await frame.locator('#td-stat-table tr.faller').count()) === stats);
  assert.match((await frame.locator('#legend-info').textContent()) ?? '', /diverging, centred on 0/, 'Δ log-prob: a diverging scale');
  // hover the 3rd token of the first completion: the card shows the same token and both top-k lists
  const tok = frame.locator('.td-row').first().locator('.td-tok').nth(2);
  const shown = (await tok.textContent()) ?? '';
  await tok.hover();
  const tip = frame.locator('#td-tip');
  await tip.waitFor({ state: 'visible', timeout: 5_000 });
  const card = (await tip.textContent()) ?? '';
  assert.equal(await tip.locator('.td-tip-head code').textContent(), shown, 'the card names the hovered token');
  assert.match(card, /top under A/); assert.match(card, /top under B/); assert.match(card, /log p/); assert.match(card, /rank/); assert.match(card, /KL\(B‖A\)/);
  assert.ok((await tip.locator('.td-alt tr').count()) >= 4, 'top-k rows under A and B');
  log(`hovered ${JSON.stringify(shown)}: ${card.slice(0, 240)}`);
  // the text is the model's (escaped), never markup
  assert.equal(await frame.locator('.td-toks script, .td-toks img').count(), 0);
  assert.match((await frame.locator('.td-row-head').first().textContent()) ?? '', /mean KL/);
  assert.equal(await frame.locator('#td-prev').getAttribute('disabled'), '', 'Prev is disabled on page 1');
  // the ratio's legend reads in ratio units, centred on 1
  await frame.locator('#td-metric').evaluate((e) => { (e as HTMLElement & { value: string }).value = 'logratio'; e.dispatchEvent(new Event('change')); });
  await poll('the ratio legend', async () => /ratio p_B\/p_A \(log scale\).*centred on 1/.test((await frame.locator('#legend-info').textContent()) ?? '') || undefined, 5_000);
  await frame.locator('#td-metric').evaluate((e) => { (e as HTMLElement & { value: string }).value = 'delta'; e.dispatchEvent(new Event('change')); });
  return { tokens, stats };
}

test('from the checkpoint diff, the CodeLens opens the token comparison of the same two checkpoints: tokens, risers and fallers, hover card', async ({ wb, screenshot, log }) => {
  await wb.waitForWorkbench({ container: 'RL Lens' });
  await wb.runCommand('RL Lens: Compare Checkpoints');
  await waitForPlaceholder(wb, 'choose a run');
  await wb.answerInput(RUN);
  await waitForPlaceholder(wb, 'the base (left)');
  await wb.answerInput('step_00000002');
  await waitForPlaceholder(wb, 'Compare step_00000002 with');
  await wb.answerInput('step_00000004_final');
  await wb.waitForTab('RL Lens: step 2 ↔ step 4', 120_000);
  const diff = wb.page.locator('.monaco-diff-editor').first();
  await diff.waitFor({ state: 'visible', timeout: 20_000 });
  const lens = diff.locator('.editor.modified .codelens-decoration a', { hasText: 'Compare tokens: step 2 → step 4' }).first();
  await lens.waitFor({ state: 'visible', timeout: 30_000 });
  await screenshot('token-diff-codelens');
  const t0 = Date.now();
  await lens.click();
  await waitForPlaceholder(wb, 'which completions');
  await wb.answerInput('rollouts of step 4');
  await wb.waitForTab('RL Lens Tokens: step 2 → step 4 · step 4 rollouts', 120_000);
  const v = await checkView(wb, log);
  log(`CodeLens → view with ${v.tokens} tokens in ${Date.now() - t0} ms (computed in a trainer subprocess)`);
  await screenshot('token-diff');
  // cached where the extension reads first: <B>/token-diff/<key>/ for the key the host computes
  const a = path.join(runDir, 'checkpoints', 'step_00000002'), b = path.join(runDir, 'checkpoints', 'step_00000004_final');
  const key = tokenDiffKey({ kind: 'checkpoint', dir: a }, { kind: 'checkpoint', dir: b }, { kind: 'rollout', path: runDir, step: 4 }, { topK: 5, minCount: 3 });
  const s = readTokenDiffSummary(path.join(b, 'token-diff', key));
  assert.ok(s, `the comparison is cached at ${path.join(b, 'token-diff', key)}`);
  assert.equal(s.counts.samples, QUICK.rl.promptsPerStep * QUICK.rl.groupSize);
  // the view's first row is the file's first completion, token for token (as displayed)
  const lines = fs.readFileSync(path.join(b, 'token-diff', key, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { tokens: string[]; tokenIds: number[] });
  const vocab = JSON.parse(fs.readFileSync(path.join(b, 'token-diff', key, 'vocab.json'), 'utf8')) as Record<string, string>;
  const drawn = await activeFrame(wb).locator('.td-row').first().locator('.td-tok').allTextContents();
  // a byte piece of a multi-byte character (display string "") is drawn as its own <0xHH> name
  assert.deepEqual(drawn, lines[0].tokens.map((t, i) => displayToken(tokenCell(t, lines[0].tokenIds[i], vocab).text).text));
  // the sample table sorts by Σ Δ log-prob (click the header): descending first
  const frame = activeFrame(wb);
  await frame.locator('#td-sample-table th[data-sort="sumDelta"]').click();
  await poll('sorted by Σ Δ', async () => /▼/.test((await frame.locator('#td-sample-table th[data-sort="sumDelta"]').textContent()) ?? '') || undefined, 5_000);
  const col = (await frame.locator('#td-sample-table tr td:nth-child(2)').allTextContents()).map((x) => Number(x.replace(/−/g, '-')));
  for (let i = 1; i < col.length; i++) assert.ok(col[i - 1] >= col[i], `Σ Δ descending: ${col}`);
  // risers and fallers of the completions on this page (the same rule, computed in the page)
  await frame.locator('#td-scope').evaluate((e) => { (e as HTMLElement & { value: string }).value = 'page'; e.dispatchEvent(new Event('change')); });
  await poll('risers and fallers of this page', async () => /on this page/.test((await frame.locator('#td-stats-title').textContent()) ?? '') || undefined, 5_000);
  assert.ok((await frame.locator('#td-stat-table tr.td-stat').count()) > 0);
  // clicking a riser outlines its occurrences; clicking a completions row outlines that completion
  await frame.locator('#td-stat-table tr.td-stat').first().click();
  await poll('a riser outlined in the rows', async () => ((await frame.locator('.td-tok.td-hit').count()) > 0) || undefined, 5_000);
  await frame.locator('#td-sample-table tr[data-sample="1"]').click();
  await poll('the clicked completion outlined', async () => ((await frame.locator('.td-row.td-row-selected[data-sample="1"]').count()) === 1) || undefined, 5_000);
  // a narrow editor (~620 px): the risers / fallers and the completions table stack instead of squeezing
  const size = wb.page.viewportSize()!;
  await wb.page.setViewportSize({ width: 960, height: size.height });
  try {
    await poll('stacked tables', async () => {
      const a = await frame.locator('.td-stats').boundingBox(), b = await frame.locator('.td-samples').boundingBox();
      return a && b && b.y >= a.y + a.height - 1 ? true : undefined;
    }, 10_000);
    const w = (await frame.locator('#td-rows').boundingBox())!.width;
    log(`narrow: rows ${Math.round(w)} px wide, tables stacked`);
    await screenshot('token-diff-narrow');
  } finally { await wb.page.setViewportSize(size); }
});

test('Compare Tokens with Base / Previous… from the palette: the run\'s base model (stories260K) against its last checkpoint', async ({ wb, screenshot, log }) => {
  await wb.closeQuickInput();
  await wb.runCommand('RL Lens: Compare Tokens with Base / Previous…');
  await waitForPlaceholder(wb, 'choose a run');
  await wb.answerInput(RUN);
  await waitForPlaceholder(wb, 'choose a checkpoint');
  await wb.answerInput('step_00000004_final');
  await waitForPlaceholder(wb, 'Compare tokens of step_00000004_final with');
  await wb.pickQuickItem('Base model');
  await waitForPlaceholder(wb, 'which completions');
  await wb.answerInput('rollouts of step 3');
  await wb.waitForTab('RL Lens Tokens: base → step 4', 120_000);
  await checkView(wb, log);
  assert.match((await activeFrame(wb).locator('.td-sub').first().textContent()) ?? '', /A: base hf:karpathy\/tinyllamas\/stories260K/);
  await screenshot('token-diff-base');
  // a reloaded window restores the comparison from the folder its page saved (panel serializer)
  await activeFrame(wb).locator('#td-stat-table tr.td-stat').first().click(); // a state change, saved by the page
  await new Promise((r) => setTimeout(r, 800));
  await wb.runCommand('Developer: Reload Window');
  await new Promise((r) => setTimeout(r, 3000)); // the old page goes away first
  await wb.waitForWorkbench({ container: 'RL Lens' });
  await wb.page.locator('.tabs-container .tab', { hasText: 'RL Lens Tokens: base → step 4' }).first().click();
  await poll('the restored comparison shows tokens', async () => ((await activeFrame(wb).locator('.td-tok').count().catch(() => 0)) > 0) || undefined, 60_000);
  log('restored after Reload Window');
});
