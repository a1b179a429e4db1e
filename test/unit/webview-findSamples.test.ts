// The heatmap's sample finding and step handling, in the REAL webview bundle in headless Chromium with the fake host
// (test/browser/harness.ts; requests answered by the real host data code): the step picker marks steps with per-token
// traces, a doctor finding's evidence on a text-only step goes to the nearest traced step and says so, switching
// steps drops the pinned token and its drill-down (and tells the host the step, for the tab title), row headers and
// the group picker show prompts, and the filter row finds "A > 0 but format = 0" and exports what it shows.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Browser } from 'playwright-core';
import { chromiumMissing, launch, openView, type Opened } from '../browser/harness';
import { makeRun, writeTextOnlyStep } from '../fixtures/makeRun';
import { readRolloutStep } from '../../src/runio/reader';
import { displayText } from '../../src/webview/data/tokens';

const missing = chromiumMissing();
if (missing) test(`webview sample-finding browser tests (${missing})`, { skip: missing }, () => undefined);

describe('heatmap: steps, evidence, finding samples (headless Chromium)', { skip: missing }, () => {
  let browser: Browser;
  let tmp: string, run: string;
  const opened: Opened[] = [];
  const open = async (o: Parameters<typeof openView>[1]) => { const v = await openView(browser, o); opened.push(v); await v.ready(); return v; };
  const setSelect = (v: Opened, id: string, value: string) => v.page.evaluate(([i, val]) => { const e = document.getElementById(i) as any; e.value = val; e.dispatchEvent(new Event('change')); }, [id, value]);
  const setText = (v: Opened, id: string, value: string) => v.page.evaluate(([i, val]) => { const e = document.getElementById(i) as any; e.value = val; e.dispatchEvent(new Event('input')); }, [id, value]);
  const cellRect = (v: Opened, s: number, t: number) => v.page.evaluate(async ([a, b]) => { const r = await (window as any).__rlLens.instance.cellRect(a, b); return { x: r.x, y: r.y, w: r.width, h: r.height }; }, [s, t]);
  const waitStep = (v: Opened, step: number) => v.page.waitForFunction((s) => (window as any).__rlLens.snapshot().step === s && !/^loading/.test(document.getElementById('status')!.textContent!), step);

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-find-'));
    // traced steps 5, 10, 15, 20; seed 34 with 10 groups: step 20 has completions with A > 0 and format = 0
    run = makeRun({ dir: path.join(tmp, 'grpo'), algorithm: 'grpo', steps: 20, groups: 10, seed: 34 });
    writeTextOnlyStep(run, 10, 12); // a summary step between them: texts and rewards only
    browser = await launch();
  });
  after(async () => {
    for (const v of opened) await v.page.context().close().catch(() => undefined);
    await browser?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('"Show Evidence" on a text-only step goes to the nearest step with per-token traces and says so; the step picker marks traced steps', async () => {
    const v = await open({ view: 'heatmap', runs: [run], target: { runDir: run, step: 12, sample: 3, metric: 'entropy', finding: 'zero-variance' } });
    await waitStep(v, 10);
    const snap = await v.snapshot();
    assert.equal(snap.step, 10);
    assert.equal(snap.metric, 'entropy', 'the finding\'s metric is shown (step 10 has it)');
    assert.equal(snap.pinned, null, 'sample 3 of step 12 is not sample 3 of step 10: nothing pinned');
    const status = (await v.page.textContent('#status'))!;
    assert.match(status, /step 12 has no per-token data \(text only\): showing step 10, the nearest step with per-token traces/);
    assert.match(status, /step 10 · 40 of 40 samples · 10 groups · grpo/);
    const label = (s: number) => v.page.textContent(`#step vscode-option[value="${s}"]`);
    assert.match((await label(12))!, /step 12 ○ text only/);
    for (const s of [5, 10, 15, 20]) assert.match((await label(s))!, new RegExp(`step ${s} ●`));
    // the user picks another step: the note goes
    await setSelect(v, 'step', '15');
    await waitStep(v, 15);
    assert.doesNotMatch((await v.page.textContent('#status'))!, /no per-token data/);
    // not evidence (a tree click on the text-only step): that step is shown, as text
    const w = await open({ view: 'heatmap', runs: [run], target: { runDir: run, step: 12 } });
    await waitStep(w, 12);
    assert.match((await w.page.textContent('#status'))!, /step 12 kept no per-token arrays/);
  });

  test('switching STEP drops the pinned token, its highlight and its drill-down, and tells the host the new step (tab title)', async () => {
    const v = await open({ view: 'heatmap', runs: [run], target: { runDir: run, step: 20 } });
    await waitStep(v, 20);
    const r = await cellRect(v, 9, 2);
    await v.page.mouse.click(r.x + r.w / 2, r.y + r.h / 2);
    await v.page.waitForSelector('#drill h3');
    assert.match((await v.page.textContent('#drill h3'))!, /credit for sample 9/);
    await setSelect(v, 'step', '15');
    await waitStep(v, 15);
    const snap = await v.snapshot();
    assert.equal(snap.pinned, null, 'no pinned cell on another step\'s sample 9');
    assert.equal(await v.page.$('#drill h3'), null, 'the drill-down of step 20 is gone');
    assert.match((await v.page.textContent('#drill'))!, /Click a token to pin it/);
    const sel = v.notifications.filter((n) => n.method === 'selection/changed').at(-1)!;
    assert.deepEqual([sel.params.step, sel.params.sample], [15, undefined], 'the host hears the step (it titles the tab "step 15")');
    const saved = await v.page.evaluate(() => (window as any).__savedState);
    assert.deepEqual([saved.target.step, saved.target.sample], [15, undefined]);
  });

  test('row headers and the group picker show the prompt (full text on hover), reward and advantage, not group ids', async () => {
    const v = await open({ view: 'heatmap', runs: [run], target: { runDir: run, step: 20 } });
    await waitStep(v, 20);
    const st = readRolloutStep(run, 20);
    const g0 = st.header.groups[0];
    const opt = (await v.page.textContent(`#group vscode-option[value="${g0.id}"]`))!;
    assert.ok(opt.startsWith(g0.prompt.slice(0, 10)), opt);
    assert.match(opt, /· r [\d.]+ ± /);
    assert.equal(await v.page.getAttribute(`#group vscode-option[value="${g0.id}"]`, 'description'), displayText(g0.prompt));
    // hover the row header of sample 5
    const r = await cellRect(v, 5, 0);
    const grid = (await v.page.locator('#grid').boundingBox())!;
    await v.page.mouse.move(grid.x + 30, r.y + r.h / 2);
    await v.page.waitForSelector('#tooltip:not([hidden]) .tip-prompt');
    const s = st.samples[5];
    assert.equal((await v.page.textContent('.tip-prompt code'))!, displayText(s.prompt));
    assert.equal((await v.page.textContent('.tip-completion code'))!, displayText(s.completion));
    assert.match((await v.page.textContent('.tip-where'))!, new RegExp(`sample 5 · reward .* · advantage `));
  });

  test('filter row: A > 0 with reward part format = 0 shows exactly those; sort by a part; Export JSONL asks the host for the rows shown', async () => {
    const v = await open({ view: 'heatmap', runs: [run], target: { runDir: run, step: 20 } });
    await waitStep(v, 20);
    const st = readRolloutStep(run, 20);
    const want = st.samples.map((s, i) => ((s.advantage ?? 0) > 0 && s.rewardParts?.format === 0 ? i : -1)).filter((i) => i >= 0);
    assert.ok(want.length >= 2 && want.length < st.samples.length, `fixture has some (${want})`);
    await setSelect(v, 'f-adv', 'pos');
    await setSelect(v, 'f-part', 'format');
    await setText(v, 'f-part-range', '0');
    await v.page.waitForFunction((n) => (window as any).__rlLens.snapshot().rows.length === n, want.length);
    assert.deepEqual((await v.snapshot()).rows, want);
    assert.match((await v.page.textContent('#status'))!, new RegExp(`${want.length} of 40 samples`));
    // an unreadable range is named and ignored
    await setText(v, 'f-reward', 'abc');
    await v.page.waitForFunction(() => /filter ignored: "abc" is not a range/.test(document.getElementById('status')!.textContent!));
    assert.deepEqual((await v.snapshot()).rows, want);
    await setText(v, 'f-reward', '>1');
    const want2 = want.filter((i) => st.samples[i].reward > 1);
    await v.page.waitForFunction((n) => (window as any).__rlLens.snapshot().rows.length === n, want2.length);
    assert.deepEqual((await v.snapshot()).rows, want2);
    await v.page.click('#clear-filters');
    await v.page.waitForFunction(() => (window as any).__rlLens.snapshot().rows.length === 40);
    // sort by a reward part (offered for the parts this step has)
    assert.equal(await v.page.locator('#sort vscode-option[value="part:format:desc"]').count(), 1);
    await setSelect(v, 'sort', 'part:format:desc');
    const rows = (await v.snapshot()).rows as number[];
    for (let k = 1; k < rows.length; k++) assert.ok(st.samples[rows[k - 1]].rewardParts!.format >= st.samples[rows[k]].rewardParts!.format);
    // export: the host gets the step and exactly the rows shown, in order
    await setSelect(v, 'f-correct', 'no');
    const wrong = (await v.snapshot()).rows as number[];
    assert.ok(wrong.length > 0 && wrong.every((i) => st.samples[i].rewardParts!.accuracy === 0));
    await v.page.click('#export');
    await v.page.waitForFunction(() => /exported \d+ sample\(s\) of step 20 to/.test(document.getElementById('status')!.textContent!));
    assert.deepEqual(v.exports.at(-1), { runDir: path.resolve(run), step: 20, samples: wrong });
    // the filters are part of the saved state (restored after a reload)
    const saved = await v.page.evaluate(() => (window as any).__savedState);
    assert.deepEqual(saved.filter, { groups: 'all', correct: false });
  });
});
