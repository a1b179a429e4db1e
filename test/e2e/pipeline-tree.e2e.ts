// A pipeline run (SFT → reward model → RL) in the Runs view of the real workbench: the parent's row says what the RL
// stage did to the hidden true score and calls out reward hacking; its tooltip lists the stages' results; the RL stage
// nests under it. The RL stage is real: metrics / evals / manifest of `rl-lens train --preset rlhf-arithmetic-hacking`
// (test/fixtures/doctor/rlhf-hacking); the parent's summary holds the numbers that run measured.
import * as fs from 'fs';
import * as path from 'path';
import { test, configure, assert, repoRoot } from './framework';
import { RunWriter } from '../../src/runio/writer';

configure({
  workspace: (dir) => {
    const parent = path.join(dir, 'runs', 'rlhf-hacking');
    const stage = path.join(parent, 'stages', '3-grpo');
    fs.mkdirSync(stage, { recursive: true });
    for (const f of ['manifest.json', 'metrics.jsonl', 'eval.jsonl']) fs.copyFileSync(path.join(repoRoot, 'test/fixtures/doctor/rlhf-hacking', f), path.join(stage, f));
    const w = RunWriter.create(parent, { id: 'rlhf-hacking', name: 'rlhf-arithmetic-hacking', algorithm: 'pipeline', task: 'arithmetic', config: { algorithm: 'pipeline' }, totalSteps: 3, status: 'completed' });
    w.updateManifest({
      step: 3,
      stages: [{ name: 'grpo', path: 'stages/3-grpo', algorithm: 'grpo', status: 'completed' }],
      pipeline: {
        sft: { dir: 'stages/1-sft', checkpoint: 'stages/1-sft/checkpoints/step_00000300_final', passAtK: { '1': 0.629 } },
        rewardModel: { dir: 'stages/2-reward_model', checkpoint: 'c', after: { 'eval/rm/accuracy': 0.846, 'eval/rm/accuracy_correctness_only': 0.828 },
          onPolicy: { samples: 512, n: 8, mean: 8.028, std: 12.577, pairs: 702, pairAccuracy: 0.899, hiddenMean: 0.734, bestOfNHidden: 0.869 }, normalize: { mean: 8.028, std: 12.577 } },
        rl: { dir: 'stages/3-grpo', algorithm: 'grpo', checkpoint: 'c', rmScore: { first: 0.095, last: 0.422 }, hiddenScore: { first: 0.726, last: 0.609 },
          eval: { before: { step: 0, passAtK: { '1': 0.664 } }, after: { step: 80, passAtK: { '1': 0.668 } } } },
      },
    });
  },
  settings: { 'rlLens.runsFolders': ['runs'] },
  timeout: 90_000,
});

test('pipeline run: the Runs view shows the hidden-score verdict, the stage results in the tooltip, and the RL stage nested', async ({ wb, screenshot }) => {
  await wb.waitForWorkbench({ container: 'RL Lens' });
  await wb.openViewContainer('RL Lens');
  const row = wb.treeItem('Runs', 'rlhf-arithmetic-hacking');
  await row.waitFor({ timeout: 20_000 });
  const text = ((await row.textContent()) ?? '').replace(/\s+/g, ' ');
  assert.match(text, /rlhf-arithmetic-hacking(?: · [\d:]+)? ?hidden 0\.73→0\.61 ⚠ hacking · pipeline · arithmetic/, `row: ${text}`); // the label ends in the start time (runLabel.ts)
  // visible without widening the side bar: a warning icon instead of the status icon, the verdict first in the description
  assert.equal(await row.locator('.codicon-warning').count(), 1, 'warning icon on the pipeline row');
  await wb.expand(row);
  const stage = wb.treeItem('Runs', /^grpo: /);
  await stage.waitFor({ timeout: 10_000 });
  await screenshot('pipeline-row', wb.treeView('Runs'));
  // VS Code shows a tree item's tooltip on a fresh mouse entry: move away, then onto the label
  await wb.page.mouse.move(700, 500);
  const box = (await row.locator('.label-name').first().boundingBox())!;
  await wb.page.mouse.move(box.x + 5, box.y + box.height / 2, { steps: 5 });
  await wb.page.mouse.move(box.x + 20, box.y + box.height / 2, { steps: 5 });
  const hover = wb.page.locator('.monaco-hover, .workbench-hover').filter({ hasText: 'Reward model' }).first();
  await hover.waitFor({ state: 'visible', timeout: 10_000 });
  const tip = ((await hover.textContent()) ?? '').replace(/\s+/g, ' ');
  assert.match(tip, /orders 89\.9% of same-prompt pairs as the hidden rule/);
  assert.match(tip, /GRPO: RM score 0\.095 → 0\.422; hidden true score 0\.726 → 0\.609; eval pass@1 0\.664 → 0\.668/);
  assert.match(tip, /reward hacking/);
  await screenshot('pipeline-tooltip');
});
