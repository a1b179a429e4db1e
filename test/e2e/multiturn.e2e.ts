// Multi-turn episodes and rollout trees in the real workbench (issue 20): a tiny Tree-GRPO run on the calculator tool
// (preset tree-grpo-calc, 2 steps, one prompt per step, a 1-layer model, a 150-step warm start so that it calls the tool) is trained before the workbench
// starts; the palette's "Show Group View" opens its last step. The group view lists a member's turns (policy text, tool
// call, tool result, reward) and draws the group's rollout trees (shared prefixes once, branch points, leaves with
// reward and advantage); clicking a branch node highlights its tokens in the heatmap row and pins its first token,
// whose drill-down explains the Tree-GRPO advantage (intra-tree + inter-tree) with checks that pass. Counts are read
// from the run's step file here (turns, trees, trajectories per tree, branches). Reload Window restores the view.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, configure, assert, poll, repoRoot, type Workbench } from './framework';
import { calcToolPreset } from '../../src/shared/presets';
import { deepMerge } from '../../src/shared/deepMerge';
import { readRolloutStep } from '../../src/runio/reader';

const RUN = 'tree-calc-e2e';
const QUICK = {
  name: RUN,
  model: { dModel: 32, nHeads: 4, nLayers: 1 },
  train: { steps: 2 },
  eval: { every: 0, numPrompts: 1, samplesPerPrompt: 1, k: [1] },
  rollouts: { every: 1 },
  rl: { promptsPerStep: 1, warmStart: { steps: 150, batchSize: 32 }, treeGrpo: { trees: 2, expandNodes: 2, iterations: 1, leavesPerTree: null } },
  backend: 'cpu',
};
let runDir = '';

configure({
  timeout: 180_000,
  settings: { 'rlLens.runsFolders': ['runs'] },
  workspace: (dir) => {
    runDir = path.join(dir, 'runs', RUN);
    const cfg = path.join(dir, `${RUN}.json`);
    fs.writeFileSync(cfg, JSON.stringify(deepMerge(calcToolPreset('tree_grpo'), QUICK), null, 2) + '\n');
    execFileSync(process.execPath, [path.join(repoRoot, 'bin', 'rl-lens.js'), 'train', '--config', cfg, '--out', runDir, '--backend', 'cpu'], { stdio: 'pipe', timeout: 240_000 });
  },
});

function activeFrame(wb: Workbench) {
  return wb.page.locator('iframe.webview.ready:visible').first().contentFrame().frameLocator('iframe#active-frame');
}
type Frame = ReturnType<typeof activeFrame>;
const snapshot = (frame: Frame) => frame.locator('body').evaluate(() => (window as unknown as { __rlLens: { snapshot(): Record<string, any> } }).__rlLens.snapshot());

/** What the step file says about the first group: its members' turns and trees (counted here, not by the view's code). */
function expected() {
  const st = readRolloutStep(runDir, 2);
  const g = st.header.groups[0];
  const trees = new Map<string, { leaves: number; branches: number; branch?: { sample: number; at: number } }>();
  for (const i of g.samples) {
    const t = st.samples[i].tree as { id: string; parent: number | null; branchAt: number } | undefined;
    if (!t) continue;
    const e = trees.get(t.id) ?? { leaves: 0, branches: 0 };
    e.leaves++;
    if (t.parent !== null) { e.branches++; e.branch ??= { sample: i, at: t.branchAt }; }
    trees.set(t.id, e);
  }
  return { st, g, trees };
}

test('group view of a Tree-GRPO run: turns, rollout trees, a branch node highlights its heatmap row, the drill-down adds up', async ({ wb, screenshot, log }) => {
  await wb.waitForWorkbench({ container: 'RL Lens' });
  await wb.runCommand('RL Lens: Show Group View');
  await wb.answerInput(RUN);
  await wb.page.locator('.quick-input-widget .quick-input-title', { hasText: 'rollout step' }).waitFor({ timeout: 10_000 });
  await wb.answerInput('step 2');
  await wb.waitForTab('Group View');
  const frame = activeFrame(wb);
  const { st, g, trees } = expected();
  assert.ok(trees.size >= 1, 'the run grew trees');
  // the turns of the first member with turns, row for row
  await frame.locator('#turns-table').waitFor({ timeout: 30_000 });
  const shown = Number(await frame.locator('#turns').getAttribute('data-sample'));
  assert.ok(g.samples.includes(shown));
  const turns = st.samples[shown].turns as { text: string; call?: string; result?: string }[];
  assert.equal(await frame.locator('#turns-table tr.turn-row').count(), turns.length, `sample ${shown}'s turns`);
  const first = (await frame.locator('#turns-table tr.turn-row').first().locator('td').allTextContents());
  assert.equal(first[0], '0');
  if (turns[0].call !== undefined) assert.equal(first[2], `?${turns[0].call}=`);
  if (turns[0].result !== undefined) assert.ok(first[3].startsWith(turns[0].result), `result cell ${first[3]}`);
  log(`sample ${shown}: ${turns.length} turns; first: ${first.join(' | ')}`);
  // one tree drawing per tree of the group, with one leaf per trajectory and one branch mark per branched trajectory
  await poll('the trees', async () => (await frame.locator('.tree-box').count()) === trees.size || undefined, 10_000);
  for (const [id, e] of trees) {
    const box = frame.locator(`.tree-box[data-tree="${id}"]`);
    assert.equal(await box.locator('[data-leaf]').count(), e.leaves, `tree ${id}: leaves`);
    assert.equal(await box.locator('[data-branch]').count(), e.branches, `tree ${id}: branches`);
  }
  // click a branch node: its trajectory's row is pinned at the branch token and the span highlighted
  const [id, e] = [...trees].find(([, x]) => x.branch)!;
  const b = e.branch!;
  await frame.locator(`.tree-box[data-tree="${id}"] [data-branch="${b.sample}"] > .tree-node`).click();
  const hl = await poll('the branch span highlighted', async () => { const v = await frame.locator('#grid').getAttribute('data-highlight'); return v?.startsWith(`${b.sample}:${b.at}-`) ? v : undefined; }, 10_000);
  const snap = await snapshot(frame);
  assert.deepEqual({ sample: snap.pinned?.sample, token: snap.pinned?.token }, { sample: b.sample, token: Math.min(b.at, st.samples[b.sample].length - 1) });
  assert.ok(snap.highlight.cells.length > 0);
  log(`branch of #${b.sample} at token ${b.at}: highlight ${hl}, ${snap.highlight.cells.length} cells`);
  await poll('Tree-GRPO drill-down', async () => /Tree-GRPO credit for token \d+ of sample \d+/.test((await frame.locator('#drill h3').textContent().catch(() => '')) ?? '') || undefined, 20_000);
  assert.equal(await frame.locator('#drill .checks li.bad').count(), 0, (await frame.locator('#drill .checks').textContent()) ?? '');
  assert.ok(await frame.locator('#drill .checks li.ok').count() >= 2);
  await screenshot('group-view-tree');
  // Reload Window: the group view comes back with the same group, its turns and trees
  await new Promise((r) => setTimeout(r, 800)); // the page saves its state
  await wb.runCommand('Developer: Reload Window');
  await new Promise((r) => setTimeout(r, 3000));
  await wb.waitForWorkbench({ container: 'RL Lens' });
  await wb.page.locator('.tabs-container .tab', { hasText: 'Group View' }).first().click();
  const again = activeFrame(wb);
  await poll('the restored trees', async () => (await again.locator('.tree-box').count().catch(() => 0)) === trees.size || undefined, 60_000);
  assert.ok(await again.locator('#turns-table tr.turn-row').count() >= 1);
  const snap2 = await snapshot(again);
  assert.equal(snap2.group, g.id);
  log('restored after Reload Window');
});
