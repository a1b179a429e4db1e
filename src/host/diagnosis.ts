/**
 * Wires the run doctor (src/doctor) into the extension: one incremental DoctorLoader per run (appended
 * lines only), thresholds from the `rlLens.doctor.*` settings, the tree's Diagnosis node, a notification once
 * per finding while a run is live (throttled, never a flood), and the "Diagnose Run" command.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { diagnose, flattenThresholds, unflattenThresholds, type Finding } from '../doctor';
import { DoctorLoader } from '../doctor/load';
import type { Supervisor } from './supervisor';

export class Diagnosis implements vscode.Disposable {
  private readonly loaders = new Map<string, DoctorLoader>();
  private readonly cache = new Map<string, Finding[]>();
  private readonly notified = new Map<string, Set<string>>();
  private readonly lastLive = new Map<string, number>();
  private readonly subs: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<string>();
  /** fires with a run folder whose findings changed */
  readonly onDidChange = this.changed.event;

  constructor(supervisor: Supervisor, private readonly liveIntervalMs = 5000) {
    this.subs.push(this.changed);
    this.subs.push(supervisor.onDidChange((c) => {
      // the doctor's checks are about RL pathologies: supervised warm starts (sft) are diagnosed in the tree only
      const notify = c.run.algorithm !== 'sft';
      if (c.event?.type === 'step' || c.event?.type === 'rollout') this.live(c.run.runDir, c.run.name, false, notify);
      if (c.exited) this.live(c.run.runDir, c.run.name, true, notify);
    }));
    this.subs.push(vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration('rlLens.doctor')) { this.cache.clear(); } }));
  }

  thresholds(): Record<string, unknown> {
    const c = vscode.workspace.getConfiguration('rlLens.doctor');
    const flat: Record<string, unknown> = {};
    for (const k of Object.keys(flattenThresholds())) { const v = c.get(k); if (typeof v === 'number') flat[k] = v; }
    return unflattenThresholds(flat) as Record<string, unknown>;
  }

  /** Findings of a run (reads only what was appended since the last call). */
  findings(runDir: string): Finding[] {
    const d = path.resolve(runDir);
    let l = this.loaders.get(d);
    if (!l) { l = new DoctorLoader(d); this.loaders.set(d, l); }
    const changed = l.update();
    const hit = this.cache.get(d);
    if (hit && !changed) return hit;
    const f = diagnose(l.input, this.thresholds());
    this.cache.set(d, f);
    return f;
  }

  private live(runDir: string, name: string, final: boolean, notify: boolean): void {
    const now = Date.now();
    if (!final && now - (this.lastLive.get(runDir) ?? 0) < this.liveIntervalMs) return;
    this.lastLive.set(runDir, now);
    let fs: Finding[];
    try { fs = this.findings(runDir); } catch { return; }
    this.changed.fire(path.resolve(runDir));
    const seen = this.notified.get(runDir) ?? new Set<string>();
    this.notified.set(runDir, seen);
    const fresh = notify ? fs.filter((f) => f.severity !== 'info' && !seen.has(f.id)) : [];
    if (!fresh.length) return;
    for (const f of fresh) seen.add(f.id);
    // one notification per pass, naming the worst new finding (and how many more)
    const f = fresh[0];
    const more = fresh.length > 1 ? ` (+${fresh.length - 1} more)` : '';
    const show = f.severity === 'error' ? vscode.window.showErrorMessage : vscode.window.showWarningMessage;
    void show(`RL Lens doctor: ${name}: ${f.title} (steps ${f.stepRange[0]}–${f.stepRange[1]})${more}`, 'Show Evidence', 'All Findings').then((p) => {
      if (p === 'Show Evidence') void vscode.commands.executeCommand('rlLens.showDashboard', { runDir, finding: f.id, step: f.stepRange[0] });
      if (p === 'All Findings') void vscode.commands.executeCommand('rlLens.diagnoseRun', { runDir });
    });
  }

  /** rlLens.diagnoseRun: pick a finding → its evidence in the dashboard. Returns the findings. */
  async command(runDir: string | undefined): Promise<Finding[] | undefined> {
    if (!runDir) return undefined;
    let fs: Finding[];
    try { fs = this.findings(runDir); } catch (e) { void vscode.window.showErrorMessage(`RL Lens doctor: ${(e as Error).message}`); return undefined; }
    this.changed.fire(path.resolve(runDir));
    if (!fs.length) { void vscode.window.showInformationMessage(`RL Lens doctor: no problems found in ${path.basename(runDir)}.`); return fs; }
    const icon = (s: string) => (s === 'error' ? '$(error)' : s === 'warning' ? '$(warning)' : '$(info)');
    void vscode.window.showQuickPick(fs.map((f) => ({ label: `${icon(f.severity)} ${f.title}`, description: `steps ${f.stepRange[0]}–${f.stepRange[1]}`, detail: `${f.message} — ${f.remedy}`, f })), { title: `RL Lens doctor: ${path.basename(runDir)}`, matchOnDetail: true })
      .then((p) => { if (p) void vscode.commands.executeCommand('rlLens.showDashboard', { runDir, finding: p.f.id, step: p.f.stepRange[0] }); });
    return fs;
  }

  dispose(): void { for (const s of this.subs) s.dispose(); }
}
