/**
 * Status bar item for the active run: step/total, reward mean, tokens/s, backend. Follows the supervisor's
 * current run; when none is running, the run selected in the tree (from its files). Click → dashboard.
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { formatPhase, type Supervisor } from '../supervisor';
import type { RunEntry } from '../runStore';
import { headline, tokensPerSecond } from '../headline';
import { statusText, type StatusInfo } from './model/statusText';

export class RunStatusBar implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  private readonly subs: vscode.Disposable[] = [];
  private selected: RunEntry | undefined;
  private selectedAt = 0;

  constructor(private readonly supervisor: Supervisor) {
    this.item = vscode.window.createStatusBarItem('rlLens.activeRun', vscode.StatusBarAlignment.Left, 50);
    this.item.name = 'RL Lens: active run';
    this.subs.push(supervisor.onDidChange(() => this.update()));
  }

  /** The tree selection (used when no run is being supervised). */
  select(e: RunEntry | undefined): void { this.selected = e; this.selectedAt = Date.now(); this.update(); }

  info(): StatusInfo | undefined { return this.shown()?.info; }

  /** What the item shows and the run folder it stands for (the click opens that run's dashboard). */
  private shown(): { info: StatusInfo; runDir: string } | undefined {
    const r = this.supervisor.current();
    // a running trainer always; a finished one until the user selects another run in the tree after it started
    const selectedLater = !!this.selected?.manifest && this.selectedAt > (r?.startedAt ?? 0) && path.resolve(this.selected.dir) !== path.resolve(r?.runDir ?? '');
    if (r && (r.proc.running || !selectedLater)) {
      return { runDir: r.runDir, info: {
        name: r.name, status: r.proc.running ? 'running' : r.status, step: r.step, totalSteps: r.totalSteps,
        headline: headline(r.metrics), tokensPerS: tokensPerSecond(r.metrics), backend: r.backend?.name,
        phase: r.proc.running ? formatPhase(r.phase) : undefined,
      } };
    }
    const e = this.selected;
    if (!e?.manifest) return undefined;
    const m = e.latestMetrics;
    return { runDir: e.dir, info: {
      // an imported run's manifest says "running" while its source is followed: it has no trainer to show as running
      name: e.manifest.name ?? e.manifest.id ?? path.basename(e.dir), status: e.manifest.source ? (e.status === 'running' ? 'following' : 'imported') : e.status, step: e.lastStep ?? e.manifest.step, totalSteps: e.manifest.totalSteps,
      headline: headline(m), tokensPerS: tokensPerSecond(m), backend: e.manifest.backend?.name,
    } };
  }

  update(): void {
    const shown = this.shown();
    if (!shown) { this.item.hide(); return; }
    const { info: s, runDir } = shown;
    this.item.text = statusText(s);
    this.item.tooltip = `RL Lens: ${s.name} (${s.status}): click to open the dashboard`;
    this.item.command = { command: 'rlLens.showDashboard', title: 'Show Dashboard', arguments: [{ runDir }] };
    this.item.show();
  }

  dispose(): void { this.item.dispose(); for (const s of this.subs) s.dispose(); }
}
