/**
 * One RL Lens webview panel (heatmap, group view or dashboard): HTML with a strict CSP, the protocol
 * (src/shared/protocol.ts) on the host side, and live follow of the runs it shows.
 */
import * as vscode from 'vscode';
import * as path from 'path';
import {
  PROTOCOL_VERSION, parseWebviewMessage,
  type DashboardAnnotation, type HostNotificationMap, type RequestMessage, type ResponseMessage, type RunRef, type ViewKind, type ViewTarget, type WebviewNotification, type WebviewRequestHandlers, type WebviewState,
} from '../../../shared/protocol';
import { RunFollower, appendMessage, checkRunDir, runRef } from './dataProvider';
import { answerRequest, webviewRequestHandlers } from './requests';
import { makeNonce, renderWebviewHtml } from './html';

export const VIEW_TYPES: Record<ViewKind, string> = { heatmap: 'rlLens.heatmap', group: 'rlLens.group', dashboard: 'rlLens.dashboard', tokenDiff: 'rlLens.tokenDiff' };
const TITLES: Record<ViewKind, string> = { heatmap: 'Token Heatmap', group: 'Group View', dashboard: 'Dashboard', tokenDiff: 'Token Comparison' };

export interface PanelHooks {
  listRuns(): Promise<RunRef[]>;
  onSelection(view: ViewKind, t: ViewTarget): void;
  open(view: 'heatmap' | 'group', t: ViewTarget): void;
  log(message: string): void;
  /** the doctor's findings of a run as dashboard bands (optional; a promise when computed without holding the host) */
  annotations?(runDir: string): DashboardAnnotation[] | undefined | Promise<DashboardAnnotation[] | undefined>;
}

export class LensPanel implements vscode.Disposable {
  private ready = false;
  private queue: unknown[] = [];
  private readonly followers = new Map<string, RunFollower>();
  private readonly disposables: vscode.Disposable[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly allowed = new Set<string>();
  lastState: WebviewState | undefined;
  private readonly onDisposeEmitter = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.onDisposeEmitter.event;
  /** messages received (for tests) */
  readonly received: string[] = [];

  constructor(
    readonly panel: vscode.WebviewPanel,
    readonly view: ViewKind,
    private readonly extensionUri: vscode.Uri,
    private runs: RunRef[],
    private target: ViewTarget | undefined,
    private readonly restored: WebviewState | undefined,
    private readonly hooks: PanelHooks,
  ) {
    for (const r of runs) this.allowed.add(path.resolve(r.runDir));
    if (target) this.allowed.add(path.resolve(target.runDir));
    const dist = vscode.Uri.joinPath(extensionUri, 'dist'), media = vscode.Uri.joinPath(extensionUri, 'media');
    panel.webview.options = { enableScripts: true, localResourceRoots: [dist, media] };
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'rl-lens.svg');
    this.updateTitle();
    const nonce = makeNonce();
    panel.webview.html = renderWebviewHtml({
      view, nonce, cspSource: panel.webview.cspSource, title: TITLES[view],
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview-main.js')).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(media, 'webview', 'main.css')).toString(),
    });
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m) => void this.receive(m)),
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState(() => this.updateTimer()),
    );
    this.updateTimer();
  }

  get runDirs(): string[] { return this.runs.map((r) => r.runDir); }
  get key(): string { return LensPanel.key(this.view, this.runDirs); }
  static key(view: ViewKind, runDirs: string[]): string { return `${view}:${runDirs.map((d) => path.resolve(d)).sort().join('|')}`; }

  private updateTitle(): void {
    const names = this.runs.map((r) => r.label).join(' vs ');
    const step = this.view !== 'dashboard' && this.target?.step !== undefined ? ` · step ${this.target.step}` : '';
    this.panel.title = `RL Lens ${TITLES[this.view]}: ${names || 'no run'}${step}`;
  }

  /** Navigate (heatmap / group) or set the overlaid runs (dashboard). */
  show(target: ViewTarget | undefined, runs?: RunRef[]): void {
    if (runs) { this.runs = runs; for (const r of runs) this.allowed.add(path.resolve(r.runDir)); this.post('runs/set', { runs }); this.sendAnnotations(); }
    if (target) {
      this.allowed.add(path.resolve(target.runDir));
      this.target = target;
      if (!this.runs.some((r) => path.resolve(r.runDir) === path.resolve(target.runDir))) this.runs = [runRef(target.runDir)];
      this.post('view/show', target);
    }
    this.updateTitle();
    this.panel.reveal(undefined, false);
  }

  /** Dashboard: the webview's run picker chose these runs (only runs the view may read: the Runs tree's or its own). */
  private async pickedRuns(runDirs: unknown): Promise<void> {
    if (this.view !== 'dashboard' || !Array.isArray(runDirs)) return;
    const refs: RunRef[] = [];
    for (const d of runDirs) {
      if (typeof d !== 'string') continue;
      try { refs.push(runRef(await this.allowedRun(d))); } catch (e) { this.hooks.log(`dashboard run picker: ${(e as Error).message}`); }
    }
    this.runs = refs;
    this.updateTitle();
    this.sendAnnotations();
  }

  /** per run: the latest annotations request (an older answer that arrives later is dropped) */
  private readonly annotationSeq = new Map<string, number>();
  /** resolved once the dashboard's runs' `metrics/*` answers went out (or after a while): the doctor waits for them */
  private firstMetrics!: () => void;
  private metricsAnswered = 0;
  private readonly firstMetricsSent = new Promise<void>((res) => { this.firstMetrics = res; });

  /**
   * Dashboard: send the doctor's findings of its runs (or only of `onlyRunDir`) as `doctor/annotations`, when they are
   * ready: the doctor reads the run in slices (Diagnosis.annotationsAsync), so the first paint and later requests
   * never wait for it; the dashboard draws the bands when they arrive.
   */
  sendAnnotations(onlyRunDir?: string): void {
    if (this.view !== 'dashboard' || !this.hooks.annotations) return;
    for (const r of this.runs) {
      const dir = path.resolve(r.runDir);
      if (onlyRunDir && path.resolve(onlyRunDir) !== dir) continue;
      const seq = (this.annotationSeq.get(dir) ?? 0) + 1;
      this.annotationSeq.set(dir, seq);
      void (async () => {
        try {
          const annotations = await this.hooks.annotations!(dir);
          if (annotations && this.annotationSeq.get(dir) === seq && !this.disposed) this.post('doctor/annotations', { runDir: r.runDir, annotations });
        } catch (e) { this.hooks.log(`doctor annotations of ${dir}: ${(e as Error).message}`); }
      })();
    }
  }

  /** Host notification; queued until the webview said `ready`. */
  post<K extends keyof HostNotificationMap>(method: K, params: HostNotificationMap[K]): void {
    const msg = { kind: 'notification', method, params };
    if (!this.ready) { this.queue.push(msg); return; }
    void this.panel.webview.postMessage(msg);
  }

  private async receive(raw: unknown): Promise<void> {
    const msg = parseWebviewMessage(raw);
    if (!('kind' in msg)) { this.hooks.log(`webview ${this.view}: ${msg.error}`); return; }
    this.received.push(msg.kind === 'request' ? `request:${msg.method}` : `notification:${msg.method}`);
    if (msg.kind === 'request') { await this.answer(msg); return; }
    this.notification(msg);
  }

  private notification(msg: WebviewNotification): void {
    switch (msg.method) {
      case 'ready': {
        this.ready = true;
        const init = { kind: 'notification', method: 'init', params: { protocol: PROTOCOL_VERSION, view: this.view, runs: this.runs, target: this.target, state: this.restored } };
        void this.panel.webview.postMessage(init);
        for (const m of this.queue.splice(0)) void this.panel.webview.postMessage(m);
        // the doctor after the first paint's data: its annotations follow the metrics answers of the dashboard's runs
        // (or 15 s without them: a dashboard with no run asks for none)
        setTimeout(() => this.firstMetrics(), 15_000);
        void this.firstMetricsSent.then(() => { if (!this.disposed) this.sendAnnotations(); });
        if (msg.params.protocol !== PROTOCOL_VERSION) this.hooks.log(`webview protocol ${msg.params.protocol} ≠ host ${PROTOCOL_VERSION}`);
        break;
      }
      case 'selection/changed': this.target = msg.params; this.updateTitle(); this.hooks.onSelection(this.view, msg.params); break;
      case 'open/heatmap': this.hooks.open('heatmap', msg.params); break;
      case 'open/group': this.hooks.open('group', msg.params); break;
      case 'state/changed': this.lastState = msg.params; break;
      case 'log/error': this.hooks.log(`webview ${this.view}: ${msg.params.message}`); break;
      case 'dashboard/runs': void this.pickedRuns(msg.params.runDirs); break;
    }
  }

  private async allowedRun(runDir: string): Promise<string> {
    const abs = checkRunDir(runDir);
    if (this.allowed.has(abs)) return abs;
    const known = await this.hooks.listRuns();
    if (known.some((r) => path.resolve(r.runDir) === abs)) { this.allowed.add(abs); return abs; }
    throw new Error(`${abs} is not a run this view was opened with`);
  }

  /** Follow `dir` (registered before its first read, as before) and return that first read. */
  private startFollowing<T>(dir: string, first: (f: RunFollower) => T): T {
    const f = new RunFollower(dir);
    this.followers.set(dir, f);
    const initial = first(f);
    this.updateTimer();
    return initial;
  }

  /** one handler per WebviewRequests method (requests.ts) */
  private readonly handlers: WebviewRequestHandlers = webviewRequestHandlers({
    listRuns: () => this.hooks.listRuns(),
    allowedRun: (runDir) => this.allowedRun(runDir),
    follow: (runDir) => this.follower(runDir),
    followMetrics: (dir) => this.startFollowing(dir, (f) => f.initial()),
    followColumns: (dir, window) => this.startFollowing(dir, (f) => f.initialColumns(window)),
    metricsSource: (dir) => {
      let f = this.followers.get(dir);
      if (!f) { f = new RunFollower(dir); f.startAtEnd(); this.followers.set(dir, f); this.updateTimer(); }
      return f.metricsSource();
    },
    saveFile: (defaultName, content) => saveWithDialog('RL Lens: export samples (JSONL)', { 'JSON Lines': ['jsonl'] }, defaultName, Buffer.from(content, 'utf8')),
    saveExport: (file) => saveWithDialog(`RL Lens: export panel (${file.format.toUpperCase()})`, { [file.filterName]: [file.format] }, file.fileName, file.bytes),
  });

  private async answer(msg: RequestMessage): Promise<void> {
    const response: ResponseMessage = await answerRequest(this.handlers, msg);
    void this.panel.webview.postMessage(response);
    if (msg.method.startsWith('metrics/') && ++this.metricsAnswered >= this.runs.length) this.firstMetrics();
  }

  private follower(runDir: string): void {
    const dir = path.resolve(runDir);
    if (this.followers.has(dir)) return;
    // from the files' ends: a heatmap streams new steps (and the records after now), it never needs what is there
    try { const f = new RunFollower(dir); f.startAtEnd(); this.followers.set(dir, f); this.updateTimer(); } catch { /* not a run */ }
  }

  /** Poll live runs once a second while the panel is visible. */
  private updateTimer(): void {
    const want = this.panel.visible && this.followers.size > 0;
    if (want && !this.timer) this.timer = setInterval(() => this.pollAll(), 1000);
    if (!want && this.timer) { clearInterval(this.timer); this.timer = undefined; }
  }

  /** Read what is new in every followed run and stream it (also called when the Runs tree reports a change). */
  pollAll(onlyRunDir?: string): void {
    for (const [dir, f] of this.followers) {
      if (onlyRunDir && path.resolve(onlyRunDir) !== dir) continue;
      try {
        const p = f.poll();
        const m = appendMessage(dir, p);
        if (m) this.post('metrics/append', m);
        // keep the runs' status current: a reloaded webview's `init` and the tab title use it
        if (p.statusChanged) for (const r of this.runs) if (path.resolve(r.runDir) === dir) r.status = p.status;
        for (const s of p.newSteps) this.post('rollout/stepAdded', { runDir: dir, step: s });
      } catch (e) { this.hooks.log(`follow ${dir}: ${(e as Error).message}`); }
    }
  }

  private disposed = false;

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.onDisposeEmitter.fire();
    this.onDisposeEmitter.dispose();
    this.panel.dispose();
  }
}

/** Ask where to save (a save dialog offering `defaultName` in the first workspace folder) and write `bytes`; the path, or undefined when cancelled. */
async function saveWithDialog(title: string, filters: Record<string, string[]>, defaultName: string, bytes: Uint8Array): Promise<string | undefined> {
  const base = vscode.workspace.workspaceFolders?.[0]?.uri;
  const uri = await vscode.window.showSaveDialog({ title, saveLabel: 'Export', filters, ...(base ? { defaultUri: vscode.Uri.joinPath(base, defaultName) } : {}) });
  if (!uri) return undefined;
  await vscode.workspace.fs.writeFile(uri, bytes);
  return uri.fsPath;
}
