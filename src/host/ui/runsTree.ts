/**
 * The Runs view (rlLens.runs): a TreeDataProvider over RunsTreeModel, fed by the run registry (runs folders
 * + opened runs), refreshed live: file watchers on the runs folders for new runs, a light poll (stat +
 * appended lines only) of runs that are running, and supervisor events. Only the nodes whose data changed are
 * refreshed (run, its Checkpoints, its Steps).
 */
import * as path from 'path';
import * as vscode from 'vscode';
import { RunStore, discoverRuns } from '../runStore';
import { RunsTreeModel, type DiagnosisProvider, type NodeView, type RunNode } from './model/runsTreeModel';
import { runsFolderPaths } from '../settings';
import { formatPhase, type Supervisor } from '../supervisor';

const OPENED_KEY = 'rlLens.openedRuns';

export class RunsTreeProvider implements vscode.TreeDataProvider<RunNode>, vscode.Disposable {
  readonly store = new RunStore();
  readonly model: RunsTreeModel;
  private readonly emitter = new vscode.EventEmitter<RunNode | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly runChanged = new vscode.EventEmitter<{ runDir: string }>();
  /** a run's files changed (new metrics, steps, checkpoints, status): panels read what is new */
  readonly onDidChangeRun = this.runChanged.event;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly nodes = new Map<string, RunNode>();
  private roots: RunNode[] = [];
  private runDirs: string[] = [];
  private folderWatchers: vscode.Disposable[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private rescanTimer: NodeJS.Timeout | undefined;
  private readonly pending = new Set<string>();
  private readonly phaseChanged = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  view: vscode.TreeView<RunNode> | undefined;

  constructor(private readonly context: vscode.ExtensionContext, private readonly supervisor: Supervisor) {
    this.model = new RunsTreeModel(this.store, { isSupervised: (d) => supervisor.isRunning(d), phaseOf: (d) => formatPhase(supervisor.get(d)?.phase) });
    this.disposables.push(this.emitter, this.runChanged);
    this.disposables.push(supervisor.onDidChange((c) => {
      if (!this.runDirs.includes(c.run.runDir)) { this.rescan(); return; }
      // a warm-start phase lives only in the supervisor (no file changes): re-render the run's row for it
      if (c.event?.type === 'log' && c.event.phase) this.phaseChanged.add(path.resolve(c.run.runDir));
      this.queueRefresh(c.run.runDir, c.exited ? 0 : 150);
    }));
    this.disposables.push(vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration('rlLens.runsFolders')) { this.watchFolders(); this.rescan(); } }));
    this.disposables.push(vscode.workspace.onDidChangeWorkspaceFolders(() => { this.watchFolders(); this.rescan(); }));
    this.watchFolders();
    this.rescan();
    this.pollTimer = setInterval(() => this.poll(), 1000);
  }

  /** which imported runs this window follows live (ShellCommands' followers) */
  setFollowedProvider(f: (runDir: string) => boolean): void { this.model.opts.isFollowed = f; }

  setDiagnosisProvider(p: DiagnosisProvider | undefined): void { this.model.opts.diagnose = p; this.emitter.fire(undefined); }

  // ---- registry -------------------------------------------------------------------------------------------
  private storage(): vscode.Memento { return vscode.workspace.workspaceFolders?.length ? this.context.workspaceState : this.context.globalState; }
  openedRuns(): string[] { return this.storage().get<string[]>(OPENED_KEY, []); }
  async addOpened(dir: string): Promise<void> {
    const d = path.resolve(dir);
    const list = this.openedRuns();
    if (!list.includes(d)) await this.storage().update(OPENED_KEY, [...list, d]);
    this.rescan();
  }
  async removeOpened(dir: string): Promise<void> {
    const d = path.resolve(dir);
    await this.storage().update(OPENED_KEY, this.openedRuns().filter((x) => x !== d));
  }
  runsFolders(): string[] { return runsFolderPaths(this.context.globalStorageUri.fsPath); }

  /** Re-list runs folders and opened runs (cheap: directory listings), then refresh the tree root. */
  rescan(): void {
    const dirs: string[] = [];
    for (const f of this.runsFolders()) dirs.push(...discoverRuns(f));
    for (const d of this.openedRuns()) dirs.push(d);
    for (const r of this.supervisor.active()) dirs.push(r.runDir);
    const uniq = [...new Set(dirs.map((d) => path.resolve(d)))];
    for (const d of this.store.all().map((e) => e.dir)) if (!uniq.includes(d) && !this.isStage(d, uniq)) this.store.delete(d);
    this.runDirs = uniq;
    for (const d of uniq) this.store.get(d).refresh();
    this.roots = this.model.roots(uniq).map((n) => this.intern(n));
    void vscode.commands.executeCommand('setContext', 'rlLens.hasRuns', this.roots.length > 0);
    this.emitter.fire(undefined);
  }
  private isStage(d: string, parents: string[]): boolean { return parents.some((p) => d.startsWith(p + path.sep)); }
  knownRuns(): string[] { return [...this.runDirs]; }

  private watchFolders(): void {
    for (const w of this.folderWatchers) w.dispose();
    this.folderWatchers = [];
    for (const f of this.runsFolders()) {
      const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(f), '*/manifest.json'), false, true, false);
      const later = () => { if (this.rescanTimer) clearTimeout(this.rescanTimer); this.rescanTimer = setTimeout(() => this.rescan(), 300); };
      w.onDidCreate(later); w.onDidDelete(later);
      this.folderWatchers.push(w);
    }
  }

  // ---- live refresh ---------------------------------------------------------------------------------------
  private poll(): void {
    // every known run (pipeline stages included) that is running; finished runs cost nothing
    this.ticks++;
    for (const e of this.store.all()) {
      if (e.status === 'running' || this.supervisor.isRunning(e.dir)) this.refreshRun(e.dir);
      // once a minute, re-render unsupervised "running" runs so that one whose trainer is gone shows as stale
      if (this.ticks % 60 === 0 && e.status === 'running' && !this.supervisor.isRunning(e.dir)) { const n = this.runNode(e.dir); if (n) this.emitter.fire(n); }
    }
  }
  private queueRefresh(dir: string, ms: number): void {
    this.pending.add(dir);
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      const dirs = [...this.pending];
      this.pending.clear();
      for (const d of dirs) {
        this.refreshRun(d);
        if (this.phaseChanged.delete(path.resolve(d))) { const n = this.runNode(path.resolve(d)); if (n) this.emitter.fire(n); }
      }
    }, ms);
  }
  /** Refresh one run: re-read what changed and fire only the nodes concerned. */
  refreshRun(dir: string): void {
    const e = this.store.peek(dir);
    if (!e) return;
    const ch = e.refresh();
    if (!ch.any) return;
    this.runChanged.fire({ runDir: e.dir });
    const runNode = this.runNode(e.dir);
    if (ch.manifest && e.manifest?.stages?.length) { this.rescan(); return; }
    if (ch.manifest || ch.metrics) { if (runNode) this.emitter.fire(runNode); }
    if (ch.steps) { const n = this.nodes.get(`steps:${e.dir}`); if (n) this.emitter.fire(n); }
    if (ch.checkpoints || ch.metrics) { const n = this.nodes.get(`ckpts:${e.dir}`); if (n) this.emitter.fire(n); }
    if (!runNode && !this.nodes.has(`steps:${e.dir}`)) this.emitter.fire(undefined);
  }

  // ---- TreeDataProvider -----------------------------------------------------------------------------------
  private intern(n: RunNode): RunNode {
    const id = this.model.view(n).id;
    const old = this.nodes.get(id);
    if (old) { Object.assign(old, n); return old; }
    this.nodes.set(id, n);
    return n;
  }
  async getChildren(n?: RunNode): Promise<RunNode[]> {
    if (!n) return this.roots;
    return (await this.model.children(n)).map((c) => this.intern(c));
  }
  getTreeItem(n: RunNode): vscode.TreeItem {
    return toTreeItem(this.model.view(n));
  }
  getParent(n: RunNode): RunNode | undefined {
    const runOf = (dir: string): RunNode | undefined => [...this.nodes.values()].find((x) => x.kind === 'run' && x.runDir === dir);
    switch (n.kind) {
      case 'run': return n.stageOf ? runOf(n.stageOf) : undefined;
      case 'checkpoints': case 'steps': case 'diagnosis': case 'message': return n.runDir ? runOf(n.runDir) : undefined;
      case 'checkpoint': return this.nodes.get(`ckpts:${n.runDir}`);
      case 'finding': return this.nodes.get(`diag:${n.runDir}`);
      case 'step': return this.intern({ kind: 'steps', runDir: n.runDir });
      case 'group': return this.intern({ kind: 'step', runDir: n.runDir, step: n.step });
      case 'sample': {
        try {
          const st = this.store.step(n.runDir, n.step);
          const gid = (st.samples[n.sample] ?? st.samples.find((x) => x.index === n.sample))?.group;
          if (gid !== undefined && st.header.groups?.some((g) => g.id === gid)) return this.intern({ kind: 'group', runDir: n.runDir, step: n.step, group: gid });
        } catch { /* fall back to the step */ }
        return this.intern({ kind: 'step', runDir: n.runDir, step: n.step });
      }
    }
  }
  /** Reveal a run, or a step / group / sample of it (a webview's selection), in the tree. */
  async revealTarget(t: { runDir: string; step?: number; group?: string; sample?: number }): Promise<void> {
    if (!this.view) return;
    const runDir = path.resolve(t.runDir);
    let n: RunNode | undefined = this.runNode(runDir);
    if (!n) return;
    if (t.step !== undefined) {
      if (t.sample !== undefined) n = this.intern({ kind: 'sample', runDir, step: t.step, sample: t.sample });
      else if (t.group !== undefined) n = this.intern({ kind: 'group', runDir, step: t.step, group: t.group });
      else n = this.intern({ kind: 'step', runDir, step: t.step });
    }
    // a live refresh of an ancestor (the run just finished, new steps) can land while VS Code resolves the reveal
    // and leave the selection on the ancestor: check and retry a few times
    for (let attempt = 0; attempt < 4; attempt++) {
      await this.view.reveal(n, { select: true, focus: false, expand: false });
      await new Promise((r) => setTimeout(r, 150 * (attempt + 1)));
      if (this.view.selection.includes(n)) return;
    }
  }
  /** the doctor's findings of a run changed: refresh its Diagnosis node */
  refreshDiagnosis(dir: string): void {
    const n = this.nodes.get(`diag:${path.resolve(dir)}`);
    if (n) this.emitter.fire(n);
  }
  runNode(dir: string): RunNode | undefined {
    const d = path.resolve(dir);
    return [...this.nodes.values()].find((x) => x.kind === 'run' && x.runDir === d);
  }
  async reveal(dir: string, opts: { expand?: boolean | number; select?: boolean } = {}): Promise<void> {
    const n = this.runNode(dir);
    if (n && this.view) await this.view.reveal(n, { select: opts.select ?? true, focus: false, expand: opts.expand ?? 1 });
  }

  dispose(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.rescanTimer) clearTimeout(this.rescanTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    for (const w of this.folderWatchers) w.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

export function toTreeItem(v: NodeView): vscode.TreeItem {
  const item = new vscode.TreeItem(v.label, v.collapsible === 'none' ? vscode.TreeItemCollapsibleState.None : v.collapsible === 'expanded' ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
  item.id = v.id;
  item.description = v.description;
  if (v.tooltip) { const md = new vscode.MarkdownString(v.tooltip); md.isTrusted = false; md.supportHtml = false; item.tooltip = md; }
  if (v.icon) item.iconPath = new vscode.ThemeIcon(v.icon.id, v.icon.color ? new vscode.ThemeColor(v.icon.color) : undefined);
  item.contextValue = v.contextValue;
  if (v.command) item.command = { command: v.command.command, title: v.command.title, arguments: v.command.args };
  if (v.resource) item.resourceUri = vscode.Uri.file(v.resource);
  return item;
}
