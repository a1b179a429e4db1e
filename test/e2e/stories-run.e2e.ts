// The default run as a new user meets it, in the real workbench (code-server + Chromium): the grpo-stories preset
// (GRPO on Karpathy's pretrained stories260K, a Llama-2 model with a 512-piece sentencepiece tokenizer) made short
// in a workspace config, started from the palette, run to completion by the real trainer, then its token heatmap:
// the cells must carry the model's REAL SUBWORD tokens (" the", "ball", …), the same ones the run wrote to
// rollouts/step_00000002.jsonl.
//
// The model: `hf:karpathy/tinyllamas/stories260K` resolves to the Hugging Face cache, a local copy (RL_LENS_MODELS,
// else `../shared/models` beside the extension's folder: src/trainer/model/hub.ts modelMirrors) or a download. The
// harness installs a COPY of the extension into a fresh extensions folder, so `../shared/models` beside it is not
// this checkout's: when the checkout has `../shared/models` (this project's machines, which cannot download), the
// trainer is pointed at it with RL_LENS_MODELS; elsewhere it uses the Hugging Face cache or downloads (2 files, 1 MB).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, configure, assert, poll, repoRoot, type Workbench } from './framework';
import { makeRun } from '../fixtures/makeRun';
import { readRolloutStep } from '../../src/runio/reader';
import { PRESET_TABLE, grpoStoriesPreset } from '../../src/shared/presets';
import { deepMerge } from '../../src/shared/deepMerge';
import { displayToken } from '../../src/webview/data/tokens';

const CONFIG_FILE = 'stories-quick.rllens.json';
const RUN_NAME = 'stories-quick';
const STEP = 2;
/** the default preset made short: 2 GRPO steps of 2 prompts × 4 completions of ≤ 32 tokens, traces every step */
const QUICK = {
  name: RUN_NAME,
  train: { steps: 2 },
  rl: { promptsPerStep: 2, groupSize: 4 },
  sampling: { maxNewTokens: 32 },
  eval: { every: 2, numPrompts: 4, samplesPerPrompt: 2, k: [1, 2] },
  rollouts: { every: 1 },
  checkpoint: { every: 0 },
  backend: 'wasm',
};
const SAMPLES = QUICK.rl.promptsPerStep * QUICK.rl.groupSize;

const localModels = path.join(repoRoot, '..', 'shared', 'models');
configure({
  // a real model on 2 busy cores: the run itself takes ~10 s on a quiet machine, the workbench 5-30 s
  timeout: 300_000,
  settings: { 'rlLens.runsFolders': ['runs'] },
  env: process.env.RL_LENS_MODELS === undefined && fs.existsSync(path.join(localModels, 'stories260K')) ? { RL_LENS_MODELS: localModels } : {},
  workspace: (dir) => {
    fs.writeFileSync(path.join(dir, CONFIG_FILE), JSON.stringify(deepMerge(grpoStoriesPreset(), QUICK), null, 2) + '\n');
    // another (older) run, so that Show Token Heatmap asks which run, as it does for a user with several runs
    makeRun({ dir: path.join(dir, 'runs', 'grpo-demo'), algorithm: 'grpo', steps: 4, seed: 5 });
  },
});


/** the webview of the active editor (hidden webviews of other tabs stay in the DOM) */
function activeFrame(wb: Workbench) {
  return wb.page.locator('iframe.webview.ready:visible').first().contentFrame().frameLocator('iframe#active-frame');
}

/** the run folder Start Run made (runs/<algorithm>-<task>-<time stamp>) */
function runDirOf(workspace: string): string {
  const dirs = fs.readdirSync(path.join(workspace, 'runs')).filter((d) => d.startsWith('grpo-stories-word-'));
  assert.equal(dirs.length, 1, `one stories run folder in runs/: ${dirs}`);
  return path.join(workspace, 'runs', dirs[0]);
}

test('Start Run… offers the grpo-stories preset first and the workspace config; the short stories run completes', async ({ wb, workspace, screenshot, log }) => {
  await wb.waitForWorkbench({ container: 'RL Lens' });
  await wb.openViewContainer('RL Lens');
  await wb.treeItem('Runs', 'grpo synthetic').waitFor({ state: 'visible', timeout: 30_000 });
  const t0 = Date.now();
  await wb.runCommand('RL Lens: Start Run…');
  await wb.page.locator('.quick-input-widget .quick-input-title', { hasText: 'RL Lens: Start Run' }).waitFor({ timeout: 10_000 });
  const rows = wb.page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
  await rows.first().waitFor({ state: 'visible', timeout: 10_000 });
  // the rows' main labels in order (the "Recommended" separator is drawn on the first item's row, not as a row)
  const labels = await poll('the Start Run items', async () => {
    const v = await rows.evaluateAll((els) => els.map((e) => (e.querySelector('.monaco-icon-label .label-name')?.textContent ?? '').trim()));
    return v.length > 2 && v[0] ? v : undefined;
  }, 10_000);
  log(`Start Run items: ${labels.slice(0, 4).join(' | ')} …`);
  const stories = PRESET_TABLE.find((p) => p.id === 'grpo-stories');
  assert.ok(stories, 'the grpo-stories preset is in PRESET_TABLE');
  assert.ok(labels[0].startsWith(stories.label), `the first Start Run item is the grpo-stories preset: "${labels[0]}" should start with "${stories.label}"`);
  await screenshot('start-run-pick');
  // the workspace config, as a user finds it: type part of its name, pick it
  await wb.page.locator('.quick-input-widget input.input').fill('stories-quick');
  await wb.pickQuickItem(new RegExp(CONFIG_FILE.replace(/\./g, '\\.')));
  const row = wb.treeRows('Runs').filter({ hasText: new RegExp(`^${RUN_NAME} · `) }).first();
  await row.waitFor({ state: 'visible', timeout: 30_000 });
  await poll('the stories run to complete', async () => (await row.locator('.codicon-pass').count()) === 1, 240_000)
    .catch(async (e) => { await screenshot('stories-run-timeout'); throw new Error(`${(e as Error).message}; row: ${await row.textContent().catch(() => '?')}`); });
  const text = (await row.textContent()) ?? '';
  log(`stories run completed in ${Date.now() - t0} ms (palette to pass icon); row: ${text}`);
  assert.match(text, new RegExp(`^${RUN_NAME} · .*grpo · stories-word.* ${QUICK.train.steps}/${QUICK.train.steps}`));
  const dir = runDirOf(workspace);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.status, 'completed');
  assert.equal(manifest.name, RUN_NAME);
  assert.ok(fs.existsSync(path.join(dir, 'rollouts', `step_${String(STEP).padStart(8, '0')}.jsonl`)), 'rollouts of step 2 written');
  await screenshot('stories-run-done');
});

test('its token heatmap of step 2 shows the model\'s real subword tokens, the ones in the rollouts file', async ({ wb, workspace, screenshot, log }) => {
  const dir = runDirOf(workspace);
  const st = readRolloutStep(dir, STEP);
  assert.equal(st.samples.length, SAMPLES);
  await wb.closeQuickInput();
  await wb.runCommand('RL Lens: Show Token Heatmap');
  await wb.page.locator('.quick-input-widget .quick-input-title', { hasText: 'run for the token heatmap' }).waitFor({ timeout: 10_000 });
  await wb.pickQuickItem(new RegExp(`${RUN_NAME} · `));
  await wb.page.locator('.quick-input-widget .quick-input-title', { hasText: 'rollout step' }).waitFor({ timeout: 10_000 });
  await wb.answerInput(`step ${STEP}`); // filters to that step and accepts it
  await wb.waitForTab(`Token Heatmap: ${RUN_NAME}`);
  const frame = activeFrame(wb);
  const status = await poll('the heatmap status', async () => {
    const t = (await frame.locator('#status').textContent().catch(() => '')) ?? '';
    return new RegExp(`step ${STEP} · ${SAMPLES} of ${SAMPLES} samples`).test(t) ? t : undefined;
  }, 60_000);
  log(`status: ${status}`);
  assert.match(status, new RegExp(`step ${STEP} · ${SAMPLES} of ${SAMPLES} samples · ${QUICK.rl.promptsPerStep} groups · grpo`));

  // what the canvas draws: the grid's token text per sample (src/webview/views/grid.ts tokens(i), fillText'd per cell)
  type Snap = { rows: number[]; grid: { cellW: number; rowH: number; headerW: number; headerH: number } };
  const snap = await frame.locator('body').evaluate(() => (window as unknown as { __rlLens: { snapshot(): unknown } }).__rlLens.snapshot()) as Snap;
  assert.equal(snap.rows.length, SAMPLES);
  const drawn = await frame.locator('body').evaluate(async (_b, n) => {
    const grid = (window as unknown as { __rlLens: { instance: { grid: { tokens(i: number): Promise<{ text: string }[]> } } } }).__rlLens.instance.grid;
    return Promise.all(Array.from({ length: n }, async (_, i) => (await grid.tokens(i)).map((t) => t.text)));
  }, SAMPLES);
  for (let i = 0; i < SAMPLES; i++) assert.deepEqual(drawn[i], st.samples[i].tokens.map((t) => displayToken(t).text), `sample ${i}: the drawn tokens are the rollouts file's`);

  // what a user reads: hover the cells of the first rows; the tooltip names each token (as drawn: ' ' is '␣')
  const { cellW, rowH, headerW, headerH } = snap.grid;
  const box = (await frame.locator('#grid').boundingBox())!;
  const visible = Math.floor((box.width - headerW) / cellW);
  const seen: { sample: number; token: number; raw: string; shown: string }[] = [];
  for (let r = 0; r < 2; r++) {
    const sample = snap.rows[r];
    const toks = st.samples[sample].tokens;
    for (let t = 0; t < Math.min(toks.length, visible); t++) {
      await frame.locator('#grid').hover({ position: { x: headerW + t * cellW + cellW / 2, y: headerH + r * rowH + rowH / 2 } });
      const shown = await poll(`the tooltip of sample ${sample} token ${t}`, async () => {
        const where = (await frame.locator('#tooltip .tip-where').textContent().catch(() => '')) ?? '';
        if (!where.startsWith(`sample ${sample} · token ${t} of `)) return undefined;
        return (await frame.locator('#tooltip .tip-token').textContent()) ?? undefined;
      }, 5_000);
      seen.push({ sample, token: t, raw: toks[t], shown });
    }
  }
  log(`hovered ${seen.length} tokens: ${seen.slice(0, 24).map((s) => s.shown).join(' ')}`);
  for (const s of seen) assert.equal(s.shown, displayToken(s.raw).text, `sample ${s.sample} token ${s.token}: tooltip "${s.shown}" vs the file's ${JSON.stringify(s.raw)}`);
  // subword pieces, not characters: several tokens of two or more letters, some with the sentencepiece leading space
  const multi = seen.filter((s) => /^ ?[A-Za-z]{2,}$/.test(s.raw));
  log(`multi-letter pieces: ${multi.map((s) => JSON.stringify(s.raw)).join(' ')}`);
  assert.ok(multi.length >= 5, `at least 5 hovered tokens are multi-letter pieces (got ${multi.length}: ${multi.map((s) => JSON.stringify(s.raw))})`);
  assert.ok(multi.some((s) => s.raw.startsWith(' ') && s.shown.startsWith('␣')), 'a word piece with its leading space, shown as ␣');
  assert.ok(multi.some((s) => !s.raw.startsWith(' ')), 'a piece inside a word');
  const all = st.samples.flatMap((s) => s.tokens);
  assert.ok(all.filter((t) => [...t.trim()].length >= 2).length / all.length > 0.3, 'over 30% of the step\'s tokens have 2+ characters');

  // the credit drill-down of a whole-word piece names the same token
  const pick = multi.find((s) => s.raw.startsWith(' ')) ?? multi[0];
  const r = snap.rows.indexOf(pick.sample);
  await frame.locator('#grid').click({ position: { x: headerW + pick.token * cellW + cellW / 2, y: headerH + r * rowH + rowH / 2 } });
  await poll('the drill-down of the picked token', async () => ((await frame.locator('#drill .drill-token code').textContent().catch(() => '')) ?? '') === displayToken(pick.raw).text || undefined, 10_000);
  assert.match((await frame.locator('#drill h3').textContent())!, new RegExp(`GRPO credit for sample ${pick.sample}`));
  // the tooltip over that token, for the screenshot
  await frame.locator('#grid').hover({ position: { x: headerW + pick.token * cellW + cellW / 2, y: headerH + r * rowH + rowH / 2 } });
  await frame.locator('#tooltip').waitFor({ state: 'visible', timeout: 5_000 });
  await screenshot('stories-heatmap');
});
