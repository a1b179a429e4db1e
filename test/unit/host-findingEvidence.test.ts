// A Diagnosis → finding node in the Runs tree opens the finding's evidence through evidenceCommand
// (src/host/doctor/evidence.ts): the heatmap of its samples, the group view of its groups, or the dashboard at its
// curves and step range. Findings that are not the doctor's (no id / stepRange) keep the plain dashboard command.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { RunStore } from '../../src/host/runStore';
import { RunsTreeModel, findingCommand } from '../../src/host/ui/model/runsTreeModel';
import type { Finding } from '../../src/doctor/types';

const F = (id: string, check: Finding['check'], evidence: Finding['evidence']): Finding => ({ id, check, severity: 'warning', title: id, message: 'm', remedy: 'r', stepRange: [4, 12], evidence });

test('finding node → evidence command with the extra arguments the panels take', () => {
  const model = new RunsTreeModel(new RunStore(), { diagnose: () => [] });
  const view = (f: Finding) => model.view({ kind: 'finding', runDir: '/runs/a', index: 0, finding: f as never }).command!;
  const h = view(F('entropy/low-samples', 'entropy', { samples: [{ step: 8, sample: 1 }, { step: 12, sample: 6 }, { step: 12, sample: 3 }] }));
  assert.equal(h.command, 'rlLens.showHeatmap');
  // the last step's samples, in the doctor's order (worst first); metric for an entropy finding: entropy
  assert.deepEqual(h.args[0], { runDir: '/runs/a', step: 12, samples: [6, 3], metric: 'entropy', finding: 'entropy/low-samples' });
  const g = view(F('zero-variance/groups', 'zero-variance', { groups: [{ step: 9, group: 'g2' }, { step: 10, group: 'g0' }] }));
  assert.equal(g.command, 'rlLens.showGroup');
  assert.equal((g.args[0] as { group: string }).group, 'g2');
  assert.equal((g.args[0] as { step: number }).step, 9);
  const d = view(F('kl/blowup', 'kl', { metrics: ['kl', 'rollouts:kl'] }));
  assert.equal(d.command, 'rlLens.showDashboard');
  assert.deepEqual(d.args[0], { runDir: '/runs/a', finding: 'kl/blowup', metrics: ['kl'], step: 4, stepRange: [4, 12] });
  // not a doctor finding (older provider shape): plain dashboard at the first step
  const legacy = findingCommand('/runs/a', { severity: 'warning', title: 'x', steps: [3, 9] }, [3, 9]);
  assert.deepEqual(legacy, { command: 'rlLens.showDashboard', title: 'Show evidence', args: [{ runDir: '/runs/a', finding: undefined, step: 3 }] });
});
