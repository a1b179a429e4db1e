// Runs INSIDE a real VS Code extension host (see docs/testing.md). Issue 9 wiring: a doctor finding's evidence opens
// the dashboard focused on the finding (the webview zooms to its step range: seen in the state it saves back), and the
// dashboard gets the run's findings as `doctor/annotations` (bands on the curves; drawing is checked in
// test/unit/webview-dashboardBands.test.ts). The run is a synthetic KL blow-up written as a real run folder.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RlLensApi } from '../../src/extension';
import type { LensPanel } from '../../src/host/ui/panels/panel';
import { evidenceCommand } from '../../src/host/doctor/evidence';
import { focusDomain } from '../../src/webview/data/annotations';
import { synthRun, writeSynthRun } from '../unit/doctor-synth';
import { EXTENSION_ID, api, until } from './helpers';



describe('Run doctor evidence and dashboard annotations (issue 9)', function () {
  this.timeout(90_000);
  let dir = '';
  let panel: LensPanel | undefined;

  after(() => {
    panel?.dispose();
    if (dir) fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  });

  it('Show Evidence of a KL blow-up opens the dashboard zoomed to its steps; the host sends the findings as annotations', async () => {
    const a = await api();
    const ws = vscode.workspace.workspaceFolders![0].uri.fsPath;
    dir = path.join(path.dirname(ws), `doctor-evidence-${process.pid}-${Date.now()}`, 'kl-run');
    const run = synthRun(3, 'kl-blowup', { groups: 8, rolloutEvery: 4, steps: 120 });
    writeSynthRun(dir, run).updateManifest({ status: 'completed' });
    const f = a.diagnosis.findings(dir).find((x) => x.id === 'kl/blowup');
    assert.ok(f, `kl/blowup among ${a.diagnosis.findings(dir).map((x) => x.id).join(', ')}`);
    const c = evidenceCommand(path.resolve(dir), f);
    assert.equal(c.command, 'rlLens.showDashboard', 'a metric finding opens the dashboard');
    const ann = a.diagnosis.annotations(dir)!;
    const mine = ann.find((x) => x.id === 'kl/blowup')!;
    assert.deepEqual([mine.from, mine.to], f.stepRange);
    assert.ok(mine.metrics.length > 0, 'the annotation names the KL curve');

    panel = (await a.diagnosis.showEvidence(dir, f)) as LensPanel | undefined;
    assert.ok(panel && panel.view === 'dashboard', 'showEvidence returned the dashboard panel');
    const steps = [...run.metrics.map((m) => m.step), ...run.evals.map((e) => e.step)];
    const want = focusDomain(f.stepRange, [Math.min(...steps), Math.max(...steps)]);
    assert.ok(want, `the finding (steps ${f.stepRange.join('–')}) covers a small part of the run: the dashboard must zoom`);
    const p = panel;
    const st = await until(`the dashboard to zoom to ${JSON.stringify(want)} (received: ${p.received.join(', ')})`, () => p.lastState && JSON.stringify(p.lastState.zoom ?? null) === JSON.stringify(want) && p.lastState);
    assert.deepEqual(st.zoom ?? null, want);

    // findings change → the host re-sends them to the open dashboard
    const sent: { method?: string; params?: { runDir: string; annotations: { id: string }[] } }[] = [];
    const wv = p.panel.webview;
    const orig = wv.postMessage.bind(wv);
    (wv as { postMessage: (m: unknown) => Thenable<boolean> }).postMessage = (m: unknown) => { sent.push(m as never); return orig(m); };
    try {
      await vscode.commands.executeCommand('rlLens.diagnoseRun', { runDir: dir }); // fires onDidChange for the run
      await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
      const msg = await until('doctor/annotations for the run', () => sent.find((m) => m.method === 'doctor/annotations'));
      assert.equal(path.resolve(msg.params!.runDir), path.resolve(dir));
      assert.ok(msg.params!.annotations.some((x) => x.id === 'kl/blowup'));
    } finally {
      (wv as { postMessage: unknown }).postMessage = orig;
    }
  });

  it('the doctor\'s worker thread stops when idle and starts again for the next pass, with the same findings', async () => {
    const a = await api();
    assert.ok(dir, 'the run of the test before');
    const d = a.diagnosis;
    const idle = d.workerIdleMs;
    d.workerIdleMs = 400;
    try {
      const first = (await d.findingsAsync(dir)).map((x) => x.id).sort();
      assert.equal(d.workerState, 'running', 'the pass ran in the worker thread');
      const starts = d.workerStarts;
      await until('the idle worker to stop', () => d.workerState === 'none' || undefined);
      const again = (await d.findingsAsync(dir)).map((x) => x.id).sort();
      assert.deepEqual(again, first);
      assert.equal(d.workerStarts, starts + 1, 'a new thread answered');
      assert.equal(d.workerState, 'running');
    } finally { d.workerIdleMs = idle; }
  });
});
