// Browser tests of the REAL webview bundle (dist/webview-main.js, rebuilt if stale) in headless Chromium with a
// fake host (test/browser/harness.ts) whose requests are answered by the real host data code. Expected values
// are computed here in Node from the run files (reader + pure functions), and compared with what the page drew
// (pixels from screenshots, text nodes) and with its debug snapshot. Skipped with a message without /usr/bin/chromium.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Browser } from 'playwright-core';
import { chromiumMissing, launch, openView, pixelAt, type Opened } from '../browser/harness';
import { makeRun, HOSTILE_TOKENS } from '../fixtures/makeRun';
import { readRolloutStep, listRolloutSteps } from '../../src/runio/reader';
import { robustDomain, divergingScale, paletteFor, fmt } from '../../src/webview/data/scales';
import { displayToken } from '../../src/webview/data/tokens';
import type { StepData } from '../../src/webview/data/step';
import { appendJsonLine } from '../../src/runio/writer';

const missing = chromiumMissing();
if (missing) {
  console.log(`# SKIP webview browser tests: ${missing}`);
  test(`webview browser tests (${missing})`, { skip: missing }, () => undefined);
}

function loadStep(dir: string): StepData {
  const s = listRolloutSteps(dir).at(-1)!;
  const { header, samples, data } = readRolloutStep(dir, s);
  return { header, samples, data };
}
function stored(st: StepData, i: number, name: string): Float32Array {
  const s = st.samples[i], k = st.header.arrays.indexOf(name);
  return st.data.subarray(s.offset! + k * s.length, s.offset! + (k + 1) * s.length);
}
const rgb = (c: string) => (c.match(/\d+/g) ?? []).map(Number);
function closeColor(a: number[], b: number[], tol = 3, msg = '') { a.forEach((x, k) => assert.ok(Math.abs(x - b[k]) <= tol, `${msg} pixel ${a} vs expected ${b} (±${tol})`)); }

describe('webview in headless Chromium', { skip: missing }, () => {
  let browser: Browser;
  let tmp: string;
  let grpo: string, ppo: string, hostile: string, dpo: string;
  const opened: Opened[] = [];
  const open = async (o: Parameters<typeof openView>[1]) => { const v = await openView(browser, o); opened.push(v); await v.ready(); return v; };
  const cellRect = (v: Opened, s: number, t: number) => v.page.evaluate(async ([a, b]) => { const r = await (window as any).__rlLens.instance.cellRect(a, b); return { x: r.x, y: r.y, w: r.width, h: r.height }; }, [s, t]);
  const setSelect = (v: Opened, id: string, value: string) => v.page.evaluate(([i, val]) => { const e = document.getElementById(i) as any; e.value = val; e.dispatchEvent(new Event('change')); }, [id, value]);

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-wvb-'));
    grpo = makeRun({ dir: path.join(tmp, 'grpo'), algorithm: 'grpo', steps: 20, seed: 3 });
    ppo = makeRun({ dir: path.join(tmp, 'ppo'), algorithm: 'ppo', steps: 20, groups: 4, groupSize: 4, seed: 4 });
    hostile = makeRun({ dir: path.join(tmp, 'hostile'), algorithm: 'grpo', steps: 5, hostile: true, seed: 5 });
    dpo = makeRun({ dir: path.join(tmp, 'dpo'), algorithm: 'dpo', steps: 5, seed: 6 });
    browser = await launch();
  });
  after(async () => {
    for (const v of opened) await v.page.context().close().catch(() => undefined);
    await browser?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('heatmap draws each cell in the diverging colour of its stored advantage over a robust domain', async () => {
    const v = await open({ view: 'heatmap', runs: [grpo] });
    const st = loadStep(grpo);
    const snap = await v.snapshot();
    assert.equal(snap.rows.length, st.samples.length);
    // domain computed here from the file: p1/p99 of all advantages, symmetric
    const all: number[] = [];
    st.samples.forEach((_, i) => all.push(...stored(st, i, 'advantage')));
    const dom = robustDomain(all, { signed: true, pLow: 1, pHigh: 99 });
    assert.ok(Math.abs(snap.domain.hi - dom.hi) < 1e-9 && Math.abs(snap.domain.lo + dom.hi) < 1e-9, `domain ${JSON.stringify(snap.domain)} vs ${dom.lo},${dom.hi}`);
    const color = divergingScale(dom, paletteFor('light', '#ffffff'));
    let checked = 0;
    for (const [i, t] of [[0, 0], [5, 2], [9, 4], [13, 1]]) {
      const r = await cellRect(v, i, t);
      const px = await pixelAt(v.page, Math.round(r.x + r.w / 2), Math.round(r.y + 2));
      closeColor(px, rgb(color(stored(st, i, 'advantage')[t])), 3, `sample ${i} token ${t}`);
      checked++;
    }
    assert.equal(checked, 4);
    const legend = await v.page.textContent('#legend-info');
    assert.match(legend!, /diverging, centred on 0/);
    assert.ok(legend!.includes(`raw range [${fmt(dom.rawMin)}, ${fmt(dom.rawMax)}]`), legend!);
    assert.deepEqual(v.pageErrors, []);
    assert.ok(!v.consoleLines.some((l) => /Refused|Content Security Policy/.test(l)), v.consoleLines.join('\n'));
  });

  test('metric selector: entropy is sequential (not centred), clip flag categorical; token text drawn as visible text', async () => {
    const v = await open({ view: 'heatmap', runs: [grpo] });
    await setSelect(v, 'metric', 'entropy');
    let snap = await v.snapshot();
    assert.equal(snap.metric, 'entropy');
    assert.ok(snap.domain.lo >= 0 && snap.domain.lo !== -snap.domain.hi, JSON.stringify(snap.domain));
    assert.match((await v.page.textContent('#legend-info'))!, /sequential/);
    await setSelect(v, 'metric', 'clip');
    snap = await v.snapshot();
    assert.equal(snap.metric, 'clip');
    assert.match((await v.page.textContent('#legend-info'))!, /clip code/);
    await setSelect(v, 'metric', 'logprob_minus_ref');
    assert.equal((await v.snapshot()).metric, 'logprob_minus_ref');
  });

  test('hover shows every per-token value and the token text; click pins and the group drill-down adds up', async () => {
    const v = await open({ view: 'heatmap', runs: [grpo] });
    const st = loadStep(grpo);
    const r = await cellRect(v, 2, 3);
    await v.page.mouse.move(r.x + r.w / 2, r.y + r.h / 2);
    await v.page.waitForSelector('#tooltip:not([hidden])');
    assert.equal(await v.page.textContent('.tip-token'), displayToken(st.samples[2].tokens[3]).text);
    const tip = (await v.page.textContent('#tooltip'))!;
    for (const name of ['logprob', 'ref_logprob', 'kl', 'ratio', 'entropy', 'advantage']) {
      assert.ok(tip.includes(name + fmt(stored(st, 2, name)[3], 5)), `${name} ${fmt(stored(st, 2, name)[3], 5)} in ${tip}`);
    }
    await v.page.mouse.click(r.x + r.w / 2, r.y + r.h / 2);
    await v.page.waitForSelector('#drill h3');
    const drill = (await v.page.textContent('#drill'))!;
    assert.match(drill, /GRPO credit for sample 2/);
    const g = st.header.groups.find((x) => x.id === st.samples[2].group)!;
    const rw = g.samples.map((i) => st.samples[i].reward);
    const mean = rw.reduce((a, b) => a + b, 0) / rw.length;
    assert.ok(drill.includes(`group mean${fmt(mean, 6)}`), drill);
    assert.ok((await v.page.$$('#drill .checks li.ok')).length >= 2);
    assert.equal((await v.page.$$('#drill .checks li.bad')).length, 0);
    const sel = v.notifications.filter((n) => n.method === 'selection/changed').at(-1)!;
    assert.deepEqual({ s: sel.params.sample, t: sel.params.token, g: sel.params.group }, { s: 2, t: 3, g: st.samples[2].group });
  });

  test('PPO drill-down: r_t, V, δ_t, the discounted sum and whitening add up to the stored advantage', async () => {
    const v = await open({ view: 'heatmap', runs: [ppo] });
    const r = await cellRect(v, 1, 2);
    await v.page.mouse.click(r.x + r.w / 2, r.y + r.h / 2);
    await v.page.waitForSelector('#drill .drill-terms');
    const snap = await v.snapshot();
    const dd = snap.debug.lastDrill;
    assert.equal(dd.kind, 'ppo');
    const labels = dd.checks.map((c: { label: string }) => c.label).join(' | ');
    for (const want of ['A_t = Σ', 'return R_t', 'whitened Â_t', 'r_t = score']) assert.ok(labels.includes(want), labels);
    for (const c of dd.checks) assert.ok(c.ok, `${c.label}: ${c.computed} vs ${c.stored}`);
    // independent: the stored advantage of that token is what the drill-down's last line shows
    const st = loadStep(ppo);
    const shown = dd.lines.find((l: { label: string }) => l.label.startsWith('Â_t')).value;
    assert.ok(Math.abs(shown - stored(st, 1, 'advantage')[2]) < 1e-3 * Math.max(1, Math.abs(shown)));
    assert.equal((await v.page.$$('#drill .checks li.bad')).length, 0);
    assert.match((await v.page.textContent('#drill'))!, /Σ = A_t/);
    // a live run writes a new step: the host's notification adds it to the step picker (no reload)
    await v.post({ kind: 'notification', method: 'rollout/stepAdded', params: { runDir: path.resolve(ppo), step: 25 } });
    assert.deepEqual((await v.snapshot()).steps, [5, 10, 15, 20, 25]);
    assert.ok(await v.page.locator('#step vscode-option[value="25"]').count() === 1);
  });

  test('DPO drill-down shows chosen vs rejected implicit rewards', async () => {
    const v = await open({ view: 'heatmap', runs: [dpo] });
    const r = await cellRect(v, 1, 0);
    await v.page.mouse.click(r.x + r.w / 2, r.y + r.h / 2);
    await v.page.waitForSelector('#drill h3');
    const dd = (await v.snapshot()).debug.lastDrill;
    assert.equal(dd.kind, 'dpo');
    assert.ok(dd.checks.length === 2 && dd.checks.every((c: { ok: boolean }) => c.ok));
    assert.match((await v.page.textContent('#drill'))!, /margin r_c − r_r/);
  });

  test('keyboard navigation, sort, filter and token search', async () => {
    const v = await open({ view: 'heatmap', runs: [grpo] });
    const st = loadStep(grpo);
    const r = await cellRect(v, 0, 1);
    await v.page.mouse.click(r.x + r.w / 2, r.y + r.h / 2);
    await v.page.keyboard.press('ArrowRight');
    await v.page.keyboard.press('ArrowDown');
    let snap = await v.snapshot();
    assert.deepEqual({ s: snap.pinned.sample, t: snap.pinned.token }, { s: 1, t: 2 });
    await v.page.keyboard.press('End');
    assert.equal((await v.snapshot()).pinned.token, st.samples[1].length - 1);
    await setSelect(v, 'sort', 'reward:desc');
    snap = await v.snapshot();
    const rewards = snap.rows.map((i: number) => st.samples[i].reward);
    for (let k = 1; k < rewards.length; k++) assert.ok(rewards[k - 1] >= rewards[k]);
    await setSelect(v, 'filter', 'filtered');
    snap = await v.snapshot();
    const expectFiltered = st.header.groups.filter((g) => g.filtered).flatMap((g) => g.samples).sort((a, b) => a - b);
    assert.ok(expectFiltered.length > 0);
    assert.deepEqual([...snap.rows].sort((a: number, b: number) => a - b), expectFiltered);
    await setSelect(v, 'filter', 'all');
    await v.page.evaluate(() => { const e = document.getElementById('search') as any; e.value = 'sum'; e.dispatchEvent(new Event('input')); });
    snap = await v.snapshot();
    let expected = 0;
    for (const s of st.samples) { const text = s.tokens.join('').toLowerCase(); let at = text.indexOf('sum'); while (at >= 0) { expected++; at = text.indexOf('sum', at + 1); } }
    assert.ok(snap.hits >= expected && expected > 0, `hits ${snap.hits} ≥ matches ${expected}`);
    assert.match((await v.page.textContent('#status'))!, /token\(s\) match/);
  });

  test('group view: the G completions aligned, rewards, parts, advantages, mean/std, filtered flag', async () => {
    const st = loadStep(grpo);
    const g = st.header.groups.find((x) => x.filtered)!;
    const v = await open({ view: 'group', runs: [grpo], target: { runDir: grpo, group: g.id } });
    const snap = await v.snapshot();
    assert.equal(snap.group, g.id);
    assert.deepEqual(snap.rows, g.samples);
    const stats = (await v.page.textContent('#group-stats'))!;
    assert.ok(stats.includes(`mean ${fmt(g.mean, 5)}`) && /FILTERED \(zero_variance\)/.test(stats), stats);
    assert.equal((await v.page.$$('#group-table tr')).length, g.samples.length + 1);
    const head = (await v.page.textContent('#group-table tr'))!;
    assert.match(head, /accuracy.*format.*advantage.*tokens/, 'the token count is "tokens", so a reward part named "length" (the stories tasks) is not shown twice');
    await v.page.click('#next-group');
    const next = (await v.snapshot()).group;
    assert.notEqual(next, g.id);
    const k = st.header.groups.findIndex((x) => x.id === g.id);
    assert.equal(next, st.header.groups[(k + 1) % st.header.groups.length].id);
    // ▶ fetches the new group's colour domain as the dropdown does (it used to draw with none: "raw range [—, —]")
    const nk = st.header.groups.findIndex((x) => x.id === next);
    const gd = robustDomain(st.header.groups[nk].samples.flatMap((i) => [...stored(st, i, 'advantage')]), { signed: true, pLow: 1, pHigh: 99 });
    await v.page.waitForFunction(() => /raw range \[[-−]?\d/.test(document.getElementById('legend-info')?.textContent ?? ''), undefined, { timeout: 5000 });
    const legend = (await v.page.textContent('#legend-info'))!;
    assert.ok(legend.includes(`raw range [${fmt(gd.rawMin)}, ${fmt(gd.rawMax)}]`), `${legend} vs the group's advantages ${gd.rawMin}..${gd.rawMax}`);
  });

  test('untrusted text stays text: script/img/bidi/zero-width tokens and prompts never execute and show as written', async () => {
    const v = await open({ view: 'group', runs: [hostile], target: { runDir: hostile, group: 'g0' } });
    const st = loadStep(hostile);
    // hover every hostile token cell, open its tooltip
    const s0 = st.samples[0];
    for (let t = 1; t <= 4; t++) {
      const r = await cellRect(v, 0, t);
      await v.page.mouse.move(r.x + r.w / 2, r.y + r.h / 2);
      await v.page.waitForSelector('#tooltip:not([hidden])');
      assert.equal(await v.page.textContent('.tip-token'), displayToken(s0.tokens[t]).text);
      await v.page.mouse.click(r.x + r.w / 2, r.y + r.h / 2);
    }
    assert.equal(s0.tokens[1], HOSTILE_TOKENS[0]);
    const table = (await v.page.textContent('#group-table'))!;
    assert.ok(table.includes('<script>alert(1)</script>'), 'script token shown literally');
    assert.ok(table.includes('<img␣src=x␣onerror="window.__pwned=1;alert(2)">'), 'img token shown literally (spaces visible)');
    assert.ok(table.includes('⟨RLO⟩evil') && table.includes('a⟨ZWSP⟩b'), 'bidi and zero-width made visible');
    const prompt = (await v.page.textContent('#group-prompt'))!;
    assert.ok(prompt.includes('<script>window.__pwned=2</script>⟨RLO⟩txt⟨ZWSP⟩'), prompt);
    await v.page.hover('#group-prompt');
    await v.page.waitForTimeout(200);
    const flags = await v.page.evaluate(() => ({ pwned: (window as any).__pwned, imgs: document.querySelectorAll('img').length, scripts: document.querySelectorAll('script').length, bold: document.querySelectorAll('#app b').length, bidi: /[\u202a-\u202e\u2066-\u2069\u200b]/.test(document.getElementById('app')!.textContent!) }));
    assert.deepEqual(flags, { pwned: undefined, imgs: 0, scripts: 3, bold: 0, bidi: false }, 'only our 3 scripts (config, fake host, bundle)');
    assert.deepEqual(v.dialogs, [], 'no alert() ran');
    assert.deepEqual(v.pageErrors, []);
  });

  test('dashboard: grouped panels, streamed appends (only new records), brush zoom, shared cursor, click-through, overlay', async () => {
    const v = await open({ view: 'dashboard', runs: [ppo, grpo] });
    let snap = await v.snapshot();
    assert.equal(snap.runs.length, 2);
    const ids = snap.panels.map((p: { id: string }) => p.id);
    for (const want of ['reward', 'kl', 'entropy', 'lengths', 'clipping', 'losses', 'optim', 'throughput', 'eval']) assert.ok(ids.includes(want), `${want} in ${ids}`);
    // stream: the trainer appends two steps; the follower reads only those and the view appends them
    const before = snap.runs[0].appended;
    for (const s of [21, 22]) appendJsonLine(path.join(ppo, 'metrics.jsonl'), { step: s, values: { 'reward/mean': 0.9, kl: 0.03 } });
    const f = v.followers.get(path.resolve(ppo))!;
    const p = f.poll();
    assert.deepEqual(p.records.map((r) => r.step), [21, 22], 'only the new records are read');
    await v.post({ kind: 'notification', method: 'metrics/append', params: { runDir: path.resolve(ppo), records: p.records, evals: p.evals } });
    await v.page.waitForTimeout(100);
    snap = await v.snapshot();
    assert.equal(snap.runs[0].maxStep, 22);
    assert.equal(snap.runs[0].appended, before + 2);
    assert.deepEqual(snap.panels[0].x, [1, 22]);
    // brush zoom on the reward panel: drag from step ~5 to ~15
    const a = await v.page.evaluate(() => (window as any).__rlLens.instance.panelPoint('reward', 5));
    const b = await v.page.evaluate(() => (window as any).__rlLens.instance.panelPoint('reward', 15));
    await v.page.mouse.move(a.x, a.y); await v.page.mouse.down(); await v.page.mouse.move(b.x, b.y, { steps: 5 }); await v.page.mouse.up();
    await v.page.waitForTimeout(100);
    snap = await v.snapshot();
    assert.ok(snap.zoom && Math.abs(snap.zoom[0] - 5) < 0.5 && Math.abs(snap.zoom[1] - 15) < 0.5, JSON.stringify(snap.zoom));
    for (const pn of snap.panels) assert.deepEqual(pn.x, snap.zoom, 'all panels share the zoom');
    // cursor + click-through: click at step 9 → nearest rollout step of the first run (5, 10, 15, 20) = 10
    const c = await v.page.evaluate(() => (window as any).__rlLens.instance.panelPoint('kl', 9.2));
    await v.page.mouse.move(c.x, c.y);
    assert.ok(Math.abs((await v.snapshot()).cursor - 9.2) < 0.3);
    await v.page.mouse.click(c.x, c.y);
    await v.page.waitForTimeout(450);
    const open1 = v.notifications.filter((n) => n.method === 'open/heatmap').at(-1);
    assert.ok(open1, 'click-through sent open/heatmap');
    assert.equal(open1!.params.step, 10);
    // a double-click resets the zoom and opens nothing (its first click is not a click-through)
    const opens = v.notifications.filter((n) => n.method === 'open/heatmap').length;
    await v.page.dblclick(`[data-panel="kl"] svg`, { position: { x: 100, y: 60 } });
    await v.page.waitForTimeout(450);
    assert.equal((await v.snapshot()).zoom, null);
    assert.equal(v.notifications.filter((n) => n.method === 'open/heatmap').length, opens, 'the double-click opened no heatmap');
  });

  test('state is restored after a reload (getState / serializer state) and theme changes redraw', async () => {
    const v = await open({ view: 'heatmap', runs: [grpo] });
    await setSelect(v, 'metric', 'kl');
    await setSelect(v, 'pct', '5-95');
    await setSelect(v, 'cellw', '80');
    const r = await cellRect(v, 3, 2);
    await v.page.mouse.click(r.x + r.w / 2, r.y + r.h / 2);
    await v.page.waitForTimeout(50);
    const saved = await v.page.evaluate(() => (window as any).__savedState);
    assert.equal(saved.metric, 'kl');
    assert.deepEqual({ s: saved.target.sample, t: saved.target.token }, { s: 3, t: 2 });
    const w = await open({ view: 'heatmap', runs: [grpo], state: saved });
    const snap = await w.snapshot();
    assert.equal(snap.metric, 'kl');
    assert.deepEqual({ s: snap.pinned.sample, t: snap.pinned.token }, { s: 3, t: 2 });
    assert.equal(snap.grid.cellW, 80);
    assert.deepEqual([snap.domain.pLow, snap.domain.pHigh], [5, 95]);
    // theme: empty area right of the shortest rows is the editor background; switch to dark and it follows
    const bg = async () => { const box = (await w.page.locator('#grid').boundingBox())!; return pixelAt(w.page, Math.round(box.x + box.width - 5), Math.round(box.y + box.height - 5)); };
    closeColor(await bg(), [255, 255, 255], 1, 'light background');
    await w.setTheme('dark');
    await w.page.waitForTimeout(100);
    closeColor(await bg(), [0x1f, 0x1f, 0x1f], 1, 'dark background');
    assert.equal((await w.snapshot()).theme, 'dark');
  });
});
