// The group view's multi-turn parts (issue 20) in the REAL webview bundle in headless Chromium with the fake host
// (test/browser/harness.ts): a member's turns, the group's rollout trees, a click / Enter on a turn or a tree node
// highlighting its tokens in the heatmap rows, the Tree-GRPO drill-down, and model text kept as text. Expected counts
// from the fixture (test/fixtures/multiturnRun.ts, drawn out by hand there). Skipped without /usr/bin/chromium.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'path';
import { chromiumMissing, groupViewSuite } from '../browser/harness';
import { makeGigpoMultiturnRun, makeMultiturnRun } from '../fixtures/multiturnRun';
import { makeRun } from '../fixtures/makeRun';

const missing = chromiumMissing();
if (missing) test(`tree view browser tests (${missing})`, { skip: missing }, () => undefined);

describe('group view: turns and rollout trees in headless Chromium', { skip: missing }, () => {
  let run = '', plain = '', gigpo = '';
  const { open } = groupViewSuite('rl-lens-tree-', (tmp) => {
    run = makeMultiturnRun(path.join(tmp, 'tree'));
    plain = makeRun({ dir: path.join(tmp, 'grpo'), algorithm: 'grpo', steps: 5, seed: 3 });
    gigpo = makeGigpoMultiturnRun(path.join(tmp, 'gigpo'));
  });

  test('turns of a member, trees with their counts; a click highlights the span in the heatmap row; Tree-GRPO drill-down', async () => {
    const v = await open(run);
    const p = v.page;
    await p.waitForSelector('#turns-table');
    // sample #0: three turns, two tool calls; the table lists policy text, call, result, reward
    assert.equal(await p.locator('#turns').getAttribute('data-sample'), '0');
    assert.equal(await p.locator('#turns-table tr.turn-row').count(), 3);
    const row1 = (await p.locator('#turns-table tr.turn-row').nth(1).textContent())!;
    assert.match(row1, /\?28\+40=.*\?28\+40=.*68/);
    assert.match((await p.locator('#turns h4').textContent())!, /3 turn\(s\), 2 tool call\(s\)/);
    assert.match((await p.locator('#group-table tr[data-sample="5"]').textContent())!, /1 turn · 0 calls/);
    // two trees: 4 + 2 trajectories; branches 3 + 1; leaves 4 + 2; branch points marked with their token and turn
    assert.equal(await p.locator('.tree-box').count(), 2);
    const t0 = p.locator('.tree-box[data-tree="g0/t0"]'), t1 = p.locator('.tree-box[data-tree="g0/t1"]');
    assert.equal(await t0.locator('[data-leaf]').count(), 4);
    assert.equal(await t0.locator('[data-branch]').count(), 3);
    assert.equal(await t1.locator('[data-leaf]').count(), 2);
    assert.equal(await t1.locator('[data-branch]').count(), 1);
    assert.match((await t0.locator('.tree-head').textContent())!, /4 trajectories · 3 branch point\(s\)/);
    // the shared prefix is shown once, with its text (the token blocks were fetched) and its 4 trajectories
    await p.waitForFunction(() => document.querySelector('[data-node="0:0"] .seg')?.textContent === '?12+16=28␣' || document.querySelector('[data-node="0:0"] .seg')?.textContent === '?12+16=28 ', undefined, { timeout: 10_000 });
    assert.match((await p.locator('[data-node="0:0"] > .tree-node').textContent())!, /tokens 0–9 shared by 4/);
    const br = (await p.locator('[data-branch="3"] > .tree-node').textContent())!;
    assert.match(br, /↳ #3 branches at token 19 \(turn 2\)/);
    assert.match(br, /p 0\.8 > τ 0\.5/, 'ARPO: the branch probability against its threshold');
    // click the branch node of #3: its row is pinned at token 19, tokens 19–24 highlighted
    await p.locator('[data-branch="3"] > .tree-node').click();
    await p.waitForFunction(() => document.getElementById('grid')?.getAttribute('data-highlight') === '3:19-31', undefined, { timeout: 5_000 });
    let snap = await v.snapshot();
    assert.deepEqual({ s: snap.pinned.sample, t: snap.pinned.token }, { s: 3, t: 19 });
    assert.equal(snap.highlight.cells.length, 12, 'tokens 19–30 of #3');
    // the turns list follows the clicked node: #3's four turns
    await p.waitForFunction(() => document.getElementById('turns')?.getAttribute('data-sample') === '3', undefined, { timeout: 5_000 });
    assert.equal(await p.locator('#turns-table tr.turn-row').count(), 4);
    // the drill-down of the pinned token: Tree-GRPO, every check passes
    await p.waitForFunction(() => /Tree-GRPO credit for token 19 of sample 3/.test(document.querySelector('#drill h3')?.textContent ?? ''), undefined, { timeout: 10_000 });
    assert.equal(await p.locator('#drill .checks li.bad').count(), 0);
    assert.ok(await p.locator('#drill .checks li.ok').count() >= 3);
    assert.equal(await p.locator('#drill table[data-table="tree-leaves"] tr').count(), 5, 'header + the tree\'s 4 leaves');
    // keyboard: focus the root node, ArrowDown to the next node, Enter highlights it (the shared prefix → 4 rows)
    await p.locator('[data-node="0:0"]').first().focus();
    await p.keyboard.press('ArrowDown');
    const focused = await p.evaluate(() => document.activeElement?.getAttribute('data-node'));
    assert.equal(focused, '0:10');
    await p.keyboard.press('Enter');
    await p.waitForFunction(() => document.getElementById('grid')?.getAttribute('data-highlight') === '0:10-20', undefined, { timeout: 5_000 });
    snap = await v.snapshot();
    assert.equal(snap.highlight.cells.length, 20, 'tokens 10–19 of #0 and of #2, which shares them');
    // a turn row: the policy span and the environment span of turn 1 of #0
    await p.locator('#turns-table tr.turn-row').nth(1).click();
    await p.waitForFunction(() => document.getElementById('grid')?.getAttribute('data-highlight') === '0:10-17,17-20', undefined, { timeout: 5_000 });
    // Esc on the grid clears the pin and the highlight
    await p.locator('#grid').focus();
    await p.keyboard.press('Escape');
    await p.waitForFunction(() => !document.getElementById('grid')?.hasAttribute('data-highlight'), undefined, { timeout: 5_000 });
    assert.deepEqual((await v.snapshot()).highlight.cells, []);
    // choosing another member in the samples table lists its turns
    await p.locator('#group-table tr[data-sample="3"]').click();
    await p.waitForFunction(() => document.getElementById('turns')?.getAttribute('data-sample') === '3', undefined, { timeout: 5_000 });
    assert.equal(await p.locator('#turns-table tr.turn-row').count(), 4);
    // hovering a token names its turn and whose it is (tokens 7–9 of #0: the tool's output "28 ")
    for (const [tok, want] of [[8, /turn 0, the environment's/], [11, /turn 1, the policy's/]] as const) {
      const r = await p.evaluate(async (t) => { const x = await (window as any).__rlLens.instance.cellRect(0, t); return { x: x.x + x.width / 2, y: x.y + x.height / 2 }; }, tok);
      await p.mouse.move(r.x, r.y);
      await p.waitForFunction((re) => new RegExp(re).test(document.querySelector('#tooltip .tip-where')?.textContent ?? ''), want.source, { timeout: 5_000 });
    }
    // a turn of #3 highlighted, then the user pins a token elsewhere (#0's token 8): the highlight and its caption go
    await p.locator('#turns-table tr.turn-row').nth(0).click();
    await p.waitForFunction(() => document.getElementById('grid')?.getAttribute('data-highlight') === '3:0-7,7-10', undefined, { timeout: 5_000 });
    assert.match((await p.locator('#status').textContent())!, /^highlighted sample 3 turn 0/);
    const r8 = await p.evaluate(async () => { const x = await (window as any).__rlLens.instance.cellRect(0, 8); return { x: x.x + x.width / 2, y: x.y + x.height / 2 }; });
    await p.mouse.click(r8.x, r8.y);
    await p.waitForFunction(() => !document.getElementById('grid')?.hasAttribute('data-highlight'), undefined, { timeout: 5_000 });
    snap = await v.snapshot();
    assert.deepEqual({ s: snap.pinned.sample, t: snap.pinned.token, cells: snap.highlight.cells, label: snap.highlight.label }, { s: 0, t: 8, cells: [], label: '' });
    assert.doesNotMatch((await p.locator('#status').textContent())!, /highlighted/);
    // token 8 of #0 is the tool's output ("28 "): the drill-down leads with that, its text quoted and labelled
    await p.waitForFunction(() => /is the environment's/.test(document.querySelector('#drill h3')?.textContent ?? ''), undefined, { timeout: 10_000 });
    assert.equal(await p.locator('#drill h3').textContent(), "Tree-GRPO: token 8 of sample 0 is the environment's (tool output)");
    assert.equal(await p.locator('#drill .drill-token').textContent(), 'text of token 8: “8”');
    const lead = await p.locator('#drill table.drill-lines tr').evaluateAll((rows) => rows.slice(0, 2).map((r) => r.textContent));
    assert.match(lead[0]!, /^token 8 of sample 0 is\s*the environment's: tool result "28" of turn 0/);
    assert.match(lead[1]!, /gradient \/ advantage \/ KL\s*none/);
    assert.equal(await p.locator('#drill .checks li.bad').count(), 0);
    assert.deepEqual(v.pageErrors, []);
  });

  test('GiGPO: the samples table\'s advantage column says A^E (episode); the turns list gives each turn\'s A', async () => {
    const v = await open(gigpo);
    const p = v.page;
    await p.waitForSelector('#turns-table');
    const heads = await p.locator('#group-table th').allTextContents();
    assert.ok(heads.includes('A^E (episode)'), heads.join(' | '));
    assert.ok(!heads.includes('advantage'), 'no bare "advantage" column: its number is not the tokens\' advantage');
    const th = p.locator('#group-table th', { hasText: 'A^E (episode)' });
    assert.match((await th.getAttribute('title'))!, /A = A\^E \+ ω·A\^S/);
    // #0: A^E 1.1508 in the table (by hand in the fixture); its tokens get 2.3016 (turn 0) and 1.8579 (turn 1)
    const cell = p.locator('#group-table tr[data-sample="0"] td').nth(heads.indexOf('A^E (episode)'));
    assert.match((await cell.textContent())!, /^1\.15/);
    assert.match((await cell.getAttribute('title'))!, /turn 0: A 2\.30\d* · turn 1: A 1\.85\d*/);
    const turnHeads = await p.locator('#turns-table th').allTextContents();
    const aCol = turnHeads.indexOf('A');
    assert.ok(aCol > 0, turnHeads.join(' | '));
    assert.match((await p.locator('#turns-table th').nth(aCol).getAttribute('title'))!, /every policy token of this turn/);
    const perTurn = await p.locator('#turns-table tr.turn-row').evaluateAll((rows, k) => rows.map((r) => r.children[k].textContent), aCol);
    assert.match(perTurn[0]!, /^2\.30/); assert.match(perTurn[1]!, /^1\.85/);
    assert.deepEqual(v.pageErrors, []);
  });

  test('a single-turn run shows no turns or trees', async () => {
    const v = await open(plain);
    await v.page.waitForSelector('#group-table');
    assert.equal(await v.page.locator('#episode').count(), 0);
    assert.equal(await v.page.locator('#turns-table').count(), 0);
  });
});
