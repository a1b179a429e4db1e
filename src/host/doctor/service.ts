/**
 * DoctorService: watches run folders (live runs, including runs not started from VS Code, e.g. a Python trainer writing
 * with the RL Lens logger), re-diagnoses them incrementally when files change, and announces each new finding once
 * (FindingNotifier: never a flood). Thresholds come from the `rlLens.doctor.*` settings.
 * The Runs tree shows findings through `createDiagnosisProvider()`; each finding's evidence opens with `evidenceCommand`.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { flattenThresholds, unflattenThresholds, type Finding } from '../../doctor';
import { DoctorLoader } from '../../doctor/load';
import { DoctorTimeline } from '../../doctor/timeline';
import { displayFindings, notifiable, notificationText } from './display';
import { FindingNotifier } from './notifier';
import { evidenceCommand } from './evidence';

/** `rlLens.doctor.<group>.<name>` settings → thresholds override (only numbers the user set). */
export function thresholdsFromSettings(): Record<string, unknown> {
  const c = vscode.workspace.getConfiguration('rlLens.doctor');
  const flat: Record<string, unknown> = {};
  for (const k of Object.keys(flattenThresholds())) { const v = c.get(k); if (typeof v === 'number') flat[k] = v; }
  return unflattenThresholds(flat) as Record<string, unknown>;
}

export class DoctorService implements vscode.Disposable {
  private readonly loaders = new Map<string, DoctorLoader>();
  private readonly timelines = new Map<string, DoctorTimeline>();
  private readonly findingsByRun = new Map<string, Finding[]>();
  private readonly watchers = new Map<string, { close(): void }>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly notifier = new FindingNotifier();
  private readonly emitter = new vscode.EventEmitter<{ runDir: string; findings: Finding[] }>();
  private readonly subs: vscode.Disposable[] = [this.emitter];
  readonly onDidChangeFindings = this.emitter.event;

  constructor(private readonly opts: { debounceMs?: number; pollMs?: number; notify?: boolean } = {}) {
    this.subs.push(vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('rlLens.doctor')) for (const d of this.loaders.keys()) this.refresh(d, false);
    }));
  }

  /** Findings of a run now (incremental read): every finding raised at any point, resolved ones marked (display.ts). */
  findings(runDir: string): Finding[] {
    const d = path.resolve(runDir);
    let l = this.loaders.get(d);
    if (!l) { l = new DoctorLoader(d); this.loaders.set(d, l); }
    l.update();
    let t = this.timelines.get(d);
    if (!t) { t = new DoctorTimeline(); this.timelines.set(d, t); }
    const f = displayFindings(l.input, t.update(l.input, thresholdsFromSettings(), { remember: l.input.status === 'running' }).findings);
    this.findingsByRun.set(d, f);
    return f;
  }

  /** Follow a live run: re-diagnose on file changes (debounced) and on a slow poll; notify new findings once. */
  watch(runDir: string): vscode.Disposable {
    const d = path.resolve(runDir);
    if (!this.watchers.has(d)) {
      const kick = () => this.schedule(d);
      let w: fs.FSWatcher | undefined;
      try { w = fs.watch(d, { recursive: false }, kick); } catch { w = undefined; }
      const poll = setInterval(kick, this.opts.pollMs ?? 10_000);
      this.watchers.set(d, { close: () => { w?.close(); clearInterval(poll); } });
      kick();
    }
    return new vscode.Disposable(() => this.unwatch(d));
  }

  unwatch(runDir: string): void {
    const d = path.resolve(runDir);
    this.watchers.get(d)?.close();
    this.watchers.delete(d);
    const t = this.timers.get(d);
    if (t) clearTimeout(t);
    this.timers.delete(d);
  }

  private schedule(d: string): void {
    if (this.timers.has(d)) return;
    this.timers.set(d, setTimeout(() => { this.timers.delete(d); this.refresh(d, true); }, this.opts.debounceMs ?? 1500));
  }

  private refresh(d: string, notify: boolean): void {
    let f: Finding[];
    try { f = this.findings(d); } catch { return; }
    this.emitter.fire({ runDir: d, findings: f });
    if (!notify || this.opts.notify === false) return;
    const { notify: now, folded } = this.notifier.decide(d, notifiable(f));
    for (const x of now) {
      const more = folded > 0 && x === now[now.length - 1] ? ` (+${folded} more: see Diagnosis in the Runs view)` : '';
      const show = x.severity === 'error' ? vscode.window.showErrorMessage : vscode.window.showWarningMessage;
      void show(`${notificationText(path.basename(d), x)}${more}`, 'Show Evidence', 'What Fixes It').then((pick) => {
        if (pick === 'Show Evidence') { const c = evidenceCommand(d, x); void vscode.commands.executeCommand(c.command, ...c.args); }
        if (pick === 'What Fixes It') void vscode.window.showInformationMessage(x.remedy, { modal: true, detail: x.message });
      });
    }
  }

  dispose(): void {
    for (const d of [...this.watchers.keys()]) this.unwatch(d);
    for (const s of this.subs) s.dispose();
  }
}

/** A DiagnosisProvider for the Runs tree (src/host/ui/model/runsTreeModel.ts): findings of a run folder. */
export function createDiagnosisProvider(service: DoctorService): (runDir: string) => Finding[] {
  return (runDir) => service.findings(runDir);
}

export { createDiagnosisNodes } from './nodes';
