/**
 * Webview panels of RL Lens: token heatmap, group view, dashboard. `registerPanels` registers the commands
 * rlLens.showHeatmap / rlLens.showGroup / rlLens.showDashboard and the panel serializers (restore after reload).
 *
 * Command arguments (all optional; a Runs-tree node works as is since it carries these fields):
 *   rlLens.showHeatmap({ runDir, step?, group?, sample?, token?, samples?, metric? })   without: quick pick of run, then step
 *   rlLens.showGroup({ runDir, step?, group?, sample? })
 *   rlLens.showDashboard({ runDir } | { runDirs: string[] } | string[] | (node, selectedNodes[]))  several = overlay
 * A doctor finding's evidence (src/host/doctor/evidence.ts evidenceCommand) adds: `samples` (the heatmap pins the first),
 * `metric` (the heatmap colours by it), `finding`, `metrics` and `stepRange` (the dashboard zooms there, scrolls to those
 * curves and emphasises the finding's band). Dashboards draw the doctor's findings as bands (`doctor/annotations`).
 */
import * as vscode from 'vscode';
import * as path from 'path';
import type { DashboardAnnotation, RunRef, ViewKind, ViewTarget, WebviewState } from '../../../shared/protocol';
import { runRef, stepInfos } from './dataProvider';
import { LensPanel, VIEW_TYPES } from './panel';

export interface PanelDeps {
  /** Runs the user knows (the Runs tree): quick picks, and which runs a webview may read. */
  listRuns(): RunRef[] | string[] | Thenable<RunRef[] | string[]>;
  /** Fired when a run's files change (trainer events, file watcher): open panels read only what is new. Optional:
   *  panels also poll their runs once a second while visible. */
  onDidChangeRun?: vscode.Event<{ runDir: string } | string>;
  /** A heatmap / group view selection changed (step, group, sample, token): reveal it in the Runs tree. */
  revealInTree?(target: ViewTarget & { view: ViewKind }): void;
  /** Where webview errors and protocol problems are logged (an output channel). */
  log?(message: string): void;
  /** The run doctor's findings of a run as dashboard bands (src/host/doctor/evidence.ts dashboardAnnotations). Optional. */
  annotations?(runDir: string): DashboardAnnotation[] | undefined | Promise<DashboardAnnotation[] | undefined>;
  /** Fired with a run folder whose findings changed: open dashboards of that run get its annotations again. */
  onDidChangeAnnotations?: vscode.Event<string>;
}

type Arg = unknown;

function asTarget(a: Arg): ViewTarget | undefined {
  if (!a) return undefined;
  if (typeof a === 'string') return { runDir: a };
  if (a instanceof vscode.Uri) return { runDir: a.fsPath };
  const o = a as Partial<ViewTarget> & { runDir?: unknown };
  if (typeof o.runDir !== 'string') return undefined;
  const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
  const x = a as Record<string, unknown>;
  const t: ViewTarget = { runDir: o.runDir, step: num(o.step), group: typeof o.group === 'string' ? o.group : undefined, sample: num(o.sample), token: num(o.token) };
  // a doctor finding's evidence (evidenceCommand): samples → pin the first; metric; finding id, its curves and step range
  const samples = Array.isArray(x.samples) ? x.samples.map(num).filter((v): v is number => v !== undefined) : [];
  if (t.sample === undefined && samples.length) t.sample = samples[0];
  if (typeof x.metric === 'string' && x.metric) t.metric = x.metric;
  if (typeof x.finding === 'string') t.finding = x.finding;
  if (Array.isArray(x.metrics)) t.metrics = x.metrics.filter((m): m is string => typeof m === 'string');
  const r = Array.isArray(x.stepRange) ? x.stepRange.map(num) : [];
  if (r.length === 2 && r[0] !== undefined && r[1] !== undefined) t.stepRange = r[0] <= r[1] ? [r[0], r[1]] : [r[1], r[0]];
  return t;
}

/** Manages the open panels; exported for tests (registerPanels returns it as the Disposable). */
export class PanelManager implements vscode.Disposable {
  readonly panels = new Set<LensPanel>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly selectionEmitter = new vscode.EventEmitter<ViewTarget & { view: ViewKind }>();
  /** every selection made in a heatmap / group view */
  readonly onDidSelect = this.selectionEmitter.event;

  constructor(private readonly context: vscode.ExtensionContext, private readonly deps: PanelDeps) {
    this.disposables.push(this.selectionEmitter);
    if (deps.onDidChangeAnnotations) this.disposables.push(deps.onDidChangeAnnotations((d) => { for (const p of this.panels) p.sendAnnotations(d); }));
    if (deps.onDidChangeRun) this.disposables.push(deps.onDidChangeRun((e) => { const d = typeof e === 'string' ? e : e.runDir; for (const p of this.panels) p.pollAll(d); }));
  }

  async runs(): Promise<RunRef[]> {
    const list = await this.deps.listRuns();
    return list.map((r) => (typeof r === 'string' ? runRef(r) : r));
  }

  private hooks() {
    return {
      listRuns: () => this.runs(),
      onSelection: (view: ViewKind, t: ViewTarget) => { this.selectionEmitter.fire({ ...t, view }); this.deps.revealInTree?.({ ...t, view }); },
      open: (view: 'heatmap' | 'group', t: ViewTarget) => void this.show(view, t),
      log: (m: string) => this.deps.log?.(m),
      annotations: (d: string) => this.deps.annotations?.(d),
    };
  }

  private track(p: LensPanel): LensPanel {
    this.panels.add(p);
    p.onDidDispose(() => this.panels.delete(p));
    return p;
  }

  /** Open (or reveal and navigate) a heatmap / group view. */
  async show(view: 'heatmap' | 'group', t: ViewTarget | undefined): Promise<LensPanel | undefined> {
    t = t ?? (await this.pickTarget(view));
    if (!t) return undefined;
    const dir = path.resolve(t.runDir);
    const target = { ...t, runDir: dir };
    const existing = [...this.panels].find((p) => p.view === view && p.runDirs.length === 1 && path.resolve(p.runDirs[0]) === dir)
      ?? [...this.panels].find((p) => p.view === view);
    if (existing) { existing.show(target); return existing; }
    const panel = vscode.window.createWebviewPanel(VIEW_TYPES[view], 'RL Lens', { viewColumn: vscode.ViewColumn.Active, preserveFocus: false }, { enableScripts: true, retainContextWhenHidden: false });
    return this.track(new LensPanel(panel, view, this.context.extensionUri, [runRef(dir)], target, undefined, this.hooks()));
  }

  async showDashboard(a: Arg, many?: Arg): Promise<LensPanel | undefined> {
    let dirs: string[] = [];
    if (Array.isArray(many) && many.length > 1) dirs = many.map((x) => asTarget(x)?.runDir).filter((d): d is string => !!d);
    else if (Array.isArray(a)) dirs = a.map((x) => asTarget(x)?.runDir).filter((d): d is string => !!d);
    else if (a && typeof a === 'object' && Array.isArray((a as { runDirs?: unknown }).runDirs)) dirs = (a as { runDirs: string[] }).runDirs;
    let focus: ViewTarget | undefined;
    if (!dirs.length) {
      const t = asTarget(a);
      if (t) { dirs = [t.runDir]; if (t.stepRange || t.finding !== undefined || t.metrics) focus = t; } // a finding's evidence
    }
    if (!dirs.length) {
      const runs = await this.runs();
      if (!runs.length) { void vscode.window.showInformationMessage('RL Lens: no runs yet. Start a run or open one first.'); return undefined; }
      const picked = runs.length === 1 ? [runs[0]] : (await vscode.window.showQuickPick(runs.map((r) => ({ label: r.label, description: [r.algorithm, r.status, path.basename(r.runDir)].filter(Boolean).join(' · '), r })), { canPickMany: true, title: 'RL Lens: runs to show (several = overlay)' }))?.map((x) => x.r);
      if (!picked?.length) return undefined;
      dirs = picked.map((r) => r.runDir);
    }
    const refs = dirs.map((d) => runRef(path.resolve(d)));
    const key = LensPanel.key('dashboard', dirs);
    const existing = [...this.panels].find((p) => p.view === 'dashboard' && p.key === key);
    if (existing) { existing.show(focus); return existing; }
    const panel = vscode.window.createWebviewPanel(VIEW_TYPES.dashboard, 'RL Lens', vscode.ViewColumn.Active, { enableScripts: true });
    return this.track(new LensPanel(panel, 'dashboard', this.context.extensionUri, refs, focus, undefined, this.hooks()));
  }

  private async pickTarget(view: 'heatmap' | 'group'): Promise<ViewTarget | undefined> {
    const runs = await this.runs();
    if (!runs.length) { void vscode.window.showInformationMessage('RL Lens: no runs yet. Start a run or open one first.'); return undefined; }
    const run = runs.length === 1 ? runs[0] : (await vscode.window.showQuickPick(runs.map((r) => ({ label: r.label, description: [r.algorithm, r.status, path.basename(r.runDir)].filter(Boolean).join(' · '), r })), { title: `RL Lens: run for the ${view === 'heatmap' ? 'token heatmap' : 'group view'}` }))?.r;
    if (!run) return undefined;
    let steps: ReturnType<typeof stepInfos> = [];
    try { steps = stepInfos(run.runDir); } catch { /* not a run folder (any more) */ }
    if (!steps.length) { void vscode.window.showInformationMessage(`RL Lens: ${run.label} has no rollout steps yet.`); return undefined; }
    const pick = await vscode.window.showQuickPick(steps.slice().reverse().map((i) => ({ label: `step ${i.step}`, description: i.traced ? 'per-token traces' : 'text only', s: i.step })), { title: 'RL Lens: rollout step' });
    return pick ? { runDir: run.runDir, step: pick.s } : undefined;
  }

  /** Panel serializer: rebuild a panel after a reload from the state the webview saved (vscode.setState). */
  serializer(view: ViewKind): vscode.WebviewPanelSerializer<WebviewState> {
    return {
      deserializeWebviewPanel: async (panel, state) => {
        const dirs = (state?.runDirs ?? []).filter((d) => typeof d === 'string');
        const refs = dirs.map((d) => runRef(d));
        this.track(new LensPanel(panel, view, this.context.extensionUri, refs, state?.target, state, this.hooks()));
      },
    };
  }

  register(): vscode.Disposable[] {
    return [
      vscode.commands.registerCommand('rlLens.showHeatmap', (a?: Arg) => this.show('heatmap', asTarget(a))),
      vscode.commands.registerCommand('rlLens.showGroup', (a?: Arg) => this.show('group', asTarget(a))),
      vscode.commands.registerCommand('rlLens.showDashboard', (a?: Arg, many?: Arg) => this.showDashboard(a, many)),
      ...(['heatmap', 'group', 'dashboard'] as ViewKind[]).map((v) => vscode.window.registerWebviewPanelSerializer(VIEW_TYPES[v], this.serializer(v))),
    ];
  }

  dispose(): void {
    for (const p of [...this.panels]) p.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

/** Register the webview commands and serializers. Call once from activate(); push the result to context.subscriptions. */
export function registerPanels(context: vscode.ExtensionContext, deps: PanelDeps): vscode.Disposable & { manager: PanelManager } {
  const manager = new PanelManager(context, deps);
  const regs = manager.register();
  return { manager, dispose: () => { for (const r of regs) r.dispose(); manager.dispose(); } };
}
