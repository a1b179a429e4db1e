/**
 * Wires the run doctor (src/doctor) into the extension: one incremental DoctorLoader per run (appended
 * lines only), thresholds from the `rlLens.doctor.*` settings, the tree's Diagnosis node, a notification once
 * per finding while a run is live (FindingNotifier: once per finding, again only if it escalates, at most 2 per run
 * a minute, never a flood), each finding's evidence (evidenceCommand: heatmap of its samples, group view of its groups,
 * or the dashboard at its curves), the dashboard annotations, and the "Diagnose Run" command.
 * The views' passes (findingsAsync) run in a worker thread (src/host/doctor/worker.ts), or, without it, here in slices
 * between turns of the event loop: a big run's doctor never holds the extension host.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import * as vscode from 'vscode';
import { flattenThresholds, unflattenThresholds, type Finding } from '../doctor';
import { DoctorLoader } from '../doctor/load';
import { DoctorTimeline } from '../doctor/timeline';
import { displayFindings, notifiable, notificationText } from './doctor/display';
import type { Supervisor } from './supervisor';
import type { DashboardAnnotation } from '../shared/protocol';
import { dashboardAnnotations, evidenceCommand } from './doctor/evidence';
import { FindingNotifier } from './doctor/notifier';

export class Diagnosis implements vscode.Disposable {
  private readonly loaders = new Map<string, DoctorLoader>();
  /** per run: the doctor's own history (raised / resolved), fed by every live diagnosis so nothing shown is forgotten */
  private readonly timelines = new Map<string, DoctorTimeline>();
  private readonly cache = new Map<string, Finding[]>();
  /** runs read since their findings were last computed */
  private readonly stale = new Set<string>();
  /** the doctor's worker thread: undefined until first used, null when unavailable */
  private worker: Worker | undefined | null;
  private readonly pending = new Map<number, { resolve(f: Finding[]): void; reject(e: Error): void }>();
  private lastId = 0;
  /** per run: the findingsAsync pass running (or queued last) */
  private readonly passes = new Map<string, Promise<Finding[]>>();
  private readonly notifier = new FindingNotifier({ maxPerWindow: 2, windowMs: 60_000, minSeverity: 'warning' });
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
      if (c.event?.type === 'step' || c.event?.type === 'rollout') void this.live(c.run.runDir, c.run.name, false, notify);
      if (c.exited) void this.live(c.run.runDir, c.run.name, true, notify);
    }));
    this.subs.push(vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration('rlLens.doctor')) { this.cache.clear(); for (const d of this.loaders.keys()) this.changed.fire(d); } }));
  }

  thresholds(): Record<string, unknown> {
    const c = vscode.workspace.getConfiguration('rlLens.doctor');
    const flat: Record<string, unknown> = {};
    for (const k of Object.keys(flattenThresholds())) { const v = c.get(k); if (typeof v === 'number') flat[k] = v; }
    return unflattenThresholds(flat) as Record<string, unknown>;
  }

  /**
   * Findings of a run (reads only what was appended since the last call): every finding raised at any point of the
   * run, resolved ones marked "(resolved by step t)", each message led by when it was raised; "No data to diagnose"
   * for a run without data. The same findings as `rl-lens doctor` (src/doctor/timeline.ts), plus any seen live.
   */
  findings(runDir: string): Finding[] {
    const d = path.resolve(runDir);
    const l = this.loader(d);
    return this.diagnose(d, l, l.update());
  }

  /**
   * findings() without holding the extension host: the run is read in slices between yields to the event loop
   * (DoctorLoader.updateAsync), so views, requests and the dashboard's first paint never wait for a big run's doctor.
   */
  findingsAsync(runDir: string): Promise<Finding[]> {
    const d = path.resolve(runDir);
    // one pass per run at a time (the input does not change under a replay); a call made meanwhile runs after it
    const prev = this.passes.get(d);
    const next = (prev ? prev.catch(() => undefined) : Promise.resolve()).then(() => this.findingsPass(d));
    this.passes.set(d, next);
    void next.catch(() => undefined).then(() => { if (this.passes.get(d) === next) this.passes.delete(d); });
    return next;
  }

  private async findingsPass(d: string): Promise<Finding[]> {
    const viaWorker = this.inWorker(d);
    if (viaWorker) {
      try { const f = await viaWorker; this.cache.set(d, f); return f; } catch (e) { if (!(e instanceof WorkerGone)) throw e; }
    }
    const l = this.loader(d);
    if (await l.updateAsync()) this.stale.add(d);
    const hit = this.cache.get(d);
    if (hit && !this.stale.has(d)) return hit;
    this.stale.delete(d);
    const t = this.timeline(d);
    const live = l.input.status === 'running';
    const f = displayFindings(l.input, (await t.updateAsync(l.input, this.thresholds(), { remember: live })).findings);
    this.cache.set(d, f);
    return f;
  }

  /** The doctor's pass of a run in the worker thread (dist/doctor-worker.js, src/host/doctor/worker.ts); undefined when
   *  there is none (a build without it, or it failed: then the pass runs here, in slices). */
  private inWorker(d: string): Promise<Finding[]> | undefined {
    if (this.worker === null) return undefined;
    if (!this.worker) {
      const file = path.join(__dirname, 'doctor-worker.js');
      if (!fs.existsSync(file)) { this.worker = null; return undefined; }
      try {
        const w = new Worker(file);
        this.workerStarts++;
        w.unref();
        w.on('message', (m: { id: number; findings?: Finding[]; error?: string }) => {
          const p = this.pending.get(m.id);
          this.pending.delete(m.id);
          if (p) { if (m.error !== undefined) p.reject(new Error(m.error)); else p.resolve(m.findings ?? []); }
          if (!this.pending.size) this.idleSoon(w);
        });
        // stopped when idle (idleSoon): started again on the next pass; stopped otherwise: unavailable, passes run here
        const gone = () => {
          if (this.retiring === w) { this.retiring = undefined; return; } // stopped when idle: nothing was pending
          if (this.worker !== w) return;
          this.worker = null;
          for (const p of this.pending.values()) p.reject(new WorkerGone());
          this.pending.clear();
        };
        w.on('error', gone); w.on('exit', gone);
        this.worker = w;
      } catch { this.worker = null; return undefined; }
    }
    const id = ++this.lastId;
    const w = this.worker;
    if (this.idleTimer) { clearTimeout(this.idleTimer); this.idleTimer = undefined; }
    return new Promise<Finding[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, dir: d, thresholds: this.thresholds() });
    });
  }

  /** how long the worker waits for another pass before it stops (ms) */
  workerIdleMs = WORKER_IDLE_MS;
  /** worker threads started so far (tests) */
  workerStarts = 0;
  /** the worker thread: running, none (not started yet, or stopped when idle) or unavailable (passes run here) */
  get workerState(): 'running' | 'none' | 'unavailable' { return this.worker ? 'running' : this.worker === null ? 'unavailable' : 'none'; }
  /** the worker stopped for being idle (its exit is not a failure) */
  private retiring: Worker | undefined;
  private idleTimer: NodeJS.Timeout | undefined;

  /** Stop the worker after `workerIdleMs` without a pass: an ended big run's doctor leaves ~100 MB of V8 heap behind
   *  in the thread (its replays' garbage), given back to the system when the thread ends. A live run's passes come
   *  every few seconds and keep it. */
  private idleSoon(w: Worker): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.worker !== w || this.pending.size) return;
      // the next pass starts a new thread at once (this one's exit is ignored: `retiring`)
      this.retiring = w;
      this.worker = undefined;
      void w.terminate();
    }, this.workerIdleMs);
    this.idleTimer.unref?.();
  }

  private timeline(d: string): DoctorTimeline {
    let t = this.timelines.get(d);
    if (!t) { t = new DoctorTimeline(); this.timelines.set(d, t); }
    return t;
  }

  private loader(d: string): DoctorLoader {
    let l = this.loaders.get(d);
    if (!l) { l = new DoctorLoader(d); this.loaders.set(d, l); }
    return l;
  }

  private diagnose(d: string, l: DoctorLoader, changed: boolean): Finding[] {
    if (changed) this.stale.add(d);
    const hit = this.cache.get(d);
    if (hit && !this.stale.has(d)) return hit;
    this.stale.delete(d);
    const t = this.timeline(d);
    const live = l.input.status === 'running';
    const f = displayFindings(l.input, t.update(l.input, this.thresholds(), { remember: live }).findings);
    this.cache.set(d, f);
    return f;
  }

  private async live(runDir: string, name: string, final: boolean, notify: boolean): Promise<void> {
    const now = Date.now();
    if (!final && now - (this.lastLive.get(runDir) ?? 0) < this.liveIntervalMs) return;
    this.lastLive.set(runDir, now);
    let fs: Finding[];
    try { fs = await this.findingsAsync(runDir); } catch { return; }
    this.changed.fire(path.resolve(runDir));
    if (!notify) return;
    // FindingNotifier: each finding once (again if it escalates), at most 2 notifications per run a minute; the rest
    // are counted in the last one ("+N more") and stay visible under Diagnosis in the Runs view
    const { notify: fresh, folded } = this.notifier.decide(path.resolve(runDir), notifiable(fs), now);
    fresh.forEach((f, i) => {
      const more = folded > 0 && i === fresh.length - 1 ? ` (+${folded} more: see Diagnosis in the Runs view)` : '';
      const show = f.severity === 'error' ? vscode.window.showErrorMessage : vscode.window.showWarningMessage;
      void show(`${notificationText(name, f)}${more}`, 'Show Evidence', 'All Findings').then((p) => {
        if (p === 'Show Evidence') void this.showEvidence(runDir, f);
        if (p === 'All Findings') void vscode.commands.executeCommand('rlLens.diagnoseRun', { runDir });
      });
    });
  }

  /** Open a finding's evidence: the heatmap of its samples, the group view of its groups, or the dashboard at its curves. */
  showEvidence(runDir: string, f: Finding): Thenable<unknown> {
    const c = evidenceCommand(path.resolve(runDir), f);
    return vscode.commands.executeCommand(c.command, ...c.args);
  }

  /** The findings of a run as dashboard bands (`doctor/annotations`); undefined when the folder cannot be diagnosed. */
  annotations(runDir: string): DashboardAnnotation[] | undefined {
    try { return dashboardAnnotations(this.findings(runDir)); } catch { return undefined; }
  }

  /** annotations() read in slices (findingsAsync): what the dashboard asks for, after its first paint. */
  async annotationsAsync(runDir: string): Promise<DashboardAnnotation[] | undefined> {
    try { return dashboardAnnotations(await this.findingsAsync(runDir)); } catch { return undefined; }
  }

  /** rlLens.diagnoseRun: pick a finding → its evidence in the dashboard. Returns the findings. */
  async command(runDir: string | undefined): Promise<Finding[] | undefined> {
    if (!runDir) return undefined;
    let fs: Finding[];
    try { fs = await this.findingsAsync(runDir); } catch (e) { void vscode.window.showErrorMessage(`RL Lens doctor: ${(e as Error).message}`); return undefined; }
    this.changed.fire(path.resolve(runDir));
    if (!fs.length) { void vscode.window.showInformationMessage(`RL Lens doctor: no problems found in ${path.basename(runDir)} (every step replayed, nothing raised at any point).`); return fs; }
    const icon = (s: string) => (s === 'error' ? '$(error)' : s === 'warning' ? '$(warning)' : '$(info)');
    void vscode.window.showQuickPick(fs.map((f) => ({ label: `${icon(f.severity)} ${f.title}`, description: `steps ${f.stepRange[0]}–${f.stepRange[1]}`, detail: `${f.message} — ${f.remedy}`, f })), { title: `RL Lens doctor: ${path.basename(runDir)}`, matchOnDetail: true, ignoreFocusOut: true })
      .then((p) => { if (p) void this.showEvidence(runDir, p.f); });
    return fs;
  }

  dispose(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const s of this.subs) s.dispose();
    const w = this.worker;
    this.worker = null;
    if (w) void w.terminate();
  }
}

/** How long the doctor's worker thread waits for another pass before it stops. */
const WORKER_IDLE_MS = 30_000;

class WorkerGone extends Error { constructor() { super('the doctor worker stopped'); } }
