// Host-side pure parts of the doctor: notify-once policy (never a flood), evidence routing, Diagnosis tree nodes,
// and that package.json declares every threshold as an `rlLens.doctor.*` setting with the code's default.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FindingNotifier } from '../../src/host/doctor/notifier';
import { evidenceCommand, dashboardAnnotations } from '../../src/host/doctor/evidence';
import { createDiagnosisNodes } from '../../src/host/doctor/nodes';
import { flattenThresholds } from '../../src/doctor/thresholds';
import type { Finding } from '../../src/doctor/types';

const f = (id: string, severity: Finding['severity'], evidence: Finding['evidence'] = {}): Finding =>
  ({ id, check: 'kl', severity, title: id, message: 'm', stepRange: [3, 9], evidence, remedy: 'r' });

test('notifier: once per finding id, escalation re-announces once, info never, rate limit folds the rest', () => {
  const n = new FindingNotifier({ maxPerWindow: 2, windowMs: 1000 });
  let d = n.decide('run', [f('a', 'warning'), f('i', 'info')], 0);
  assert.deepEqual(d.notify.map((x) => x.id), ['a']);
  d = n.decide('run', [f('a', 'warning'), f('i', 'info')], 10);
  assert.deepEqual(d.notify, []);
  d = n.decide('run', [f('a', 'error')], 20);
  assert.deepEqual(d.notify.map((x) => x.id), ['a'], 'escalated to error');
  d = n.decide('run', [f('a', 'error'), f('b', 'warning'), f('c', 'error')], 30);
  assert.deepEqual(d.notify.map((x) => x.id), [], 'window already has 2 notifications');
  assert.equal(d.folded, 2);
  d = n.decide('run', [f('a', 'error'), f('b', 'warning'), f('c', 'error'), f('d', 'warning')], 2000);
  assert.deepEqual(d.notify.map((x) => x.id), ['d'], 'b and c were folded (counted) earlier, never re-announced');
  // 20 rounds of the same findings: no more notifications
  let total = 0;
  for (let t = 0; t < 20; t++) total += n.decide('run', [f('a', 'error'), f('b', 'warning'), f('d', 'warning')], 3000 + t * 5000).notify.length;
  assert.equal(total, 0);
  assert.equal(n.decide('other', [f('a', 'warning')], 0).notify.length, 1, 'per run');
});

test('evidence routing: samples → heatmap, groups → group view, else dashboard; nodes carry the command', () => {
  const s = evidenceCommand('/r', { ...f('clip/ratio-outliers', 'warning', { samples: [{ step: 4, sample: 2 }, { step: 8, sample: 5 }, { step: 8, sample: 1 }] }), check: 'clip' });
  assert.equal(s.command, 'rlLens.showHeatmap');
  assert.deepEqual(s.args[0].samples, [5, 1]);
  assert.equal(s.args[0].step, 8);
  assert.equal(s.args[0].metric, 'ratio');
  const g = evidenceCommand('/r', f('zero-variance/groups', 'error', { groups: [{ step: 6, group: 'g1' }] }));
  assert.equal(g.command, 'rlLens.showGroup');
  assert.equal(g.args[0].group, 'g1');
  const m = evidenceCommand('/r', f('kl/blowup', 'warning', { metrics: ['kl', 'rollouts:x'] }));
  assert.equal(m.command, 'rlLens.showDashboard');
  assert.deepEqual(m.args[0].metrics, ['kl']);
  assert.deepEqual(dashboardAnnotations([f('kl/blowup', 'warning', { metrics: ['kl'] })]), [{ id: 'kl/blowup', severity: 'warning', title: 'kl/blowup', from: 3, to: 9, metrics: ['kl'] }]);
  const nodes = createDiagnosisNodes('/r', [f('kl/blowup', 'error', { metrics: ['kl'] })]);
  assert.equal(nodes[0].icon.id, 'error');
  assert.equal(nodes[0].description, 'steps 3–9');
  assert.equal(nodes[0].command.command, 'rlLens.showDashboard');
  assert.match(nodes[0].tooltip, /What usually fixes it/);
});

test('package.json declares every doctor threshold as rlLens.doctor.<name> with the same default', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8'));
  const props = pkg.contributes.configuration.properties as Record<string, { default: number; type: string }>;
  for (const [k, v] of Object.entries(flattenThresholds())) {
    const p = props[`rlLens.doctor.${k}`];
    assert.ok(p, `missing setting rlLens.doctor.${k}`);
    assert.equal(p.default, v, `default of rlLens.doctor.${k}`);
    assert.equal(p.type, 'number');
  }
});

test('docs/doctor.md documents every threshold and every check id family', () => {
  const doc = fs.readFileSync(path.join(__dirname, '../../docs/doctor.md'), 'utf8');
  for (const k of Object.keys(flattenThresholds())) assert.ok(doc.includes(`\`${k}\``), `docs/doctor.md lacks ${k}`);
  for (const id of ['entropy/collapse', 'zero-variance/groups', 'kl/blowup', 'kl/zero', 'beta/at-max', 'clip/ratio-outliers', 'length/drift', 'length/truncation',
    'length/overlong-penalty', 'reward-hacking/eval', 'reward-hacking/phrase', 'mode-collapse/distinct', 'mode-collapse/pass-at-k', 'critic/explained-variance', 'numerical/nonfinite']) {
    assert.ok(doc.includes(id), `docs/doctor.md lacks ${id}`);
  }
});
