/**
 * The extension side of trainer supervision: starts trainer subprocesses (TrainerProcess), one
 * LogOutputChannel per run for stderr, a cancellable progress notification (step, reward, ETA), crash
 * reporting with "Show Log" / "Open Run", and events for the tree and the status bar. Several runs can run
 * at once; runs are independent of any view (closing a panel does not stop them). Disposing the supervisor
 * (extension deactivation) stops every run gracefully.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { BackendInfo, RunStatus, TrainerEvent, TrainerPhase } from '../shared/runFormat';
import { TrainerProcess, type TrainerExit } from './trainerProcess';
import { modelFolderPaths, readSettings } from './settings';
import { headline } from './headline';
import { runDisplayLabel } from './runLabel';

export interface StartOptions {
  configPath: string;
  runDir: string;
  /** display name (defaults to the folder name); shown with the start time ("name · 14:03:05") */
  name?: string;
  backend?: string;
  trusted: boolean;
  /** show the cancellable progress notification (default: setting rlLens.showProgressNotification) */
  progress?: boolean;
  /** for tests: run another CLI (a fake trainer) instead of the bundled one */
  cliPath?: string;
}

export interface ActiveRun {
  readonly runDir: string;
  /** name · start time [#N]: tells runs of the same preset apart (tree, output channel, notifications) */
  readonly name: string;
  readonly proc: TrainerProcess;
  readonly log: vscode.LogOutputChannel;
  readonly startedAt: number;
  step?: number;
  totalSteps?: number;
  metrics?: Record<string, number | null>;
  etaSeconds?: number;
  /** work before the first step (the RL warm start): from `log` events with `phase`, cleared by the first step */
  phase?: TrainerPhase;
  backend?: BackendInfo;
  algorithm?: string;
  status: RunStatus;
  exit?: TrainerExit;
}

export interface RunChange { run: ActiveRun; event?: TrainerEvent; exited?: boolean }

export function formatEta(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s) || s < 0) return '';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** "warm start 120/400" (undefined without a phase). */
export function formatPhase(p: TrainerPhase | undefined): string | undefined {
  return p ? `${p.name} ${p.done}/${p.total}` : undefined;
}

/** The notification shown when a run ends: text and buttons (pure; unit-tested). */
export const MODEL_FOLDERS_ACTION = 'Set Model Folders…';

export function endNotice(name: string, x: Pick<TrainerExit, 'status' | 'message' | 'crashed'>, run: { step?: number; totalSteps?: number; metrics?: Record<string, number | null> }): { severity: 'info' | 'warning' | 'error'; text: string; actions: string[] } {
  const at = run.step !== undefined ? ` at step ${run.step}${run.totalSteps ? `/${run.totalSteps}` : ''}` : '';
  const h = headline(run.metrics);
  const hv = h ? ` (${h.key} ${h.value.toFixed(3)})` : '';
  // a model the trainer could not find (src/trainer/model/hub.ts names the setting): offer the setting itself
  const modelMissing = /rlLens\.modelFolders/.test(x.message ?? '');
  if (x.status === 'failed' || x.crashed) return { severity: 'error', text: `RL Lens: run "${name}" failed${at}: ${x.message ?? 'the trainer exited unexpectedly'}`, actions: [...(modelMissing ? [MODEL_FOLDERS_ACTION] : []), 'Show Log', 'Open Dashboard', 'Open Run'] };
  if (x.status === 'stopped') return { severity: 'warning', text: `RL Lens: run "${name}" stopped${at}${hv}.`, actions: ['Open Dashboard', 'Show Log'] };
  return { severity: 'info', text: `RL Lens: run "${name}" completed${at}${hv}.`, actions: ['Open Dashboard', 'Show Log'] };
}

export class Supervisor implements vscode.Disposable {
  private readonly runs = new Map<string, ActiveRun>();
  /** finished runs keep their log channel until the run is started again or the extension unloads */
  private readonly logs = new Map<string, vscode.LogOutputChannel>();
  private readonly changeEmitter = new vscode.EventEmitter<RunChange>();
  readonly onDidChange = this.changeEmitter.event;
  private lastStarted: string | undefined;
  /** crash reports shown to the user (runDir + message), newest last */
  readonly crashReports: { runDir: string; message: string }[] = [];
  /** end-of-run notifications shown (completed / stopped / failed), newest last: for tests */
  readonly endNotices: { runDir: string; severity: string; text: string; actions: string[] }[] = [];

  constructor(private readonly extensionPath: string) {}

  /** The runs currently supervised (running or stopping). */
  active(): ActiveRun[] { return [...this.runs.values()].filter((r) => r.proc.running); }
  get(runDir: string): ActiveRun | undefined { return this.runs.get(path.resolve(runDir)); }
  isRunning(runDir: string): boolean { return !!this.get(runDir)?.proc.running; }
  /** the run the status bar follows: the most recently started one still running, else any running one */
  current(): ActiveRun | undefined {
    const last = this.lastStarted ? this.runs.get(this.lastStarted) : undefined;
    if (last?.proc.running) return last;
    return this.active().at(-1) ?? last;
  }
  logChannel(runDir: string): vscode.LogOutputChannel | undefined { return this.logs.get(path.resolve(runDir)); }

  /** Node used to run the trainer: the rlLens.nodePath setting, else VS Code's own runtime as Node. */
  resolveNode(): { nodePath: string; electronAsNode: boolean } {
    const configured = readSettings().nodePath.trim();
    if (configured) return { nodePath: configured, electronAsNode: false };
    return { nodePath: process.execPath, electronAsNode: true };
  }

  cliPath(): string {
    return path.join(this.extensionPath, 'bin', 'rl-lens.js');
  }

  start(o: StartOptions): ActiveRun {
    const runDir = path.resolve(o.runDir);
    if (this.isRunning(runDir)) throw new Error(`a run is already running in ${runDir}`);
    const startedAt = Date.now();
    const name = runDisplayLabel({ dir: runDir, name: o.name, startedAt });
    // one output channel per run, named with its start time: logs of runs of the same preset never interleave
    let log = this.logs.get(runDir);
    if (!log) { log = vscode.window.createOutputChannel(`RL Lens: ${name}`, { log: true }); this.logs.set(runDir, log); }
    const { nodePath, electronAsNode } = this.resolveNode();
    const settings = readSettings();
    const cliPath = o.cliPath ?? this.cliPath();
    const trainerBundle = path.join(path.dirname(cliPath), '..', 'dist', 'trainer.js');
    if (!o.cliPath && !fs.existsSync(trainerBundle)) throw new Error(`the trainer bundle ${trainerBundle} is missing: run "npm run build" in the extension folder`);
    log.info(`starting: ${nodePath} ${cliPath} train --config ${o.configPath} --out ${runDir}${o.backend && o.backend !== 'auto' ? ` --backend ${o.backend}` : ''} (trusted=${o.trusted})`);
    const run: ActiveRun = {
      runDir, name, log, startedAt, status: 'running',
      proc: undefined as unknown as TrainerProcess,
    };
    const proc = new TrainerProcess({
      nodePath, electronAsNode, cliPath, configPath: o.configPath, runDir, backend: o.backend ?? settings.backend,
      trusted: o.trusted, killAfterMs: settings.stopTimeoutSeconds * 1000,
      env: (() => { const m = modelFolderPaths(); return m ? { RL_LENS_MODELS: `${m}${path.delimiter}${path.resolve(path.dirname(cliPath), '..', '..', 'shared', 'models')}` } : undefined; })(),
    }, {
      onEvent: (e) => this.onEvent(run, e),
      onGarbage: (g) => log!.warn(`stdout line ${g.line} is not an event (${g.reason}): ${g.text.slice(0, 300)}`),
      onStderr: (s) => { for (const line of s.split('\n')) if (line.trim()) log!.info(line); },
      onExit: (x) => this.onExit(run, x),
    });
    (run as { proc: TrainerProcess }).proc = proc;
    this.runs.set(runDir, run);
    this.lastStarted = runDir;
    proc.start();
    this.changeEmitter.fire({ run });
    if (o.progress ?? settings.showProgressNotification) this.showProgress(run);
    return run;
  }

  private onEvent(run: ActiveRun, e: TrainerEvent): void {
    switch (e.type) {
      case 'start': run.totalSteps = e.totalSteps; run.backend = e.backend; run.algorithm = e.algorithm; run.log.info(`trainer started: ${e.algorithm}${e.task ? ` on ${e.task}` : ''}, backend ${e.backend?.name}${e.backend?.gpu ? ` (${e.backend.gpu})` : ''}`); break;
      case 'step': run.phase = undefined; run.step = e.step; run.totalSteps = e.totalSteps ?? run.totalSteps; run.metrics = e.metrics; run.etaSeconds = e.etaSeconds; break;
      case 'warning': run.log.warn(`${e.step !== undefined ? `step ${e.step}: ` : ''}${e.message}`); break;
      case 'error': run.log.error(e.message + (e.stack ? `\n${e.stack}` : '')); break;
      case 'log':
        if (e.phase) run.phase = e.phase;
        if (e.level === 'debug') run.log.debug(e.message); else run.log.info(e.message);
        break;
      case 'checkpoint': run.log.info(`checkpoint at step ${e.step}: ${e.path}`); break;
      case 'eval': {
        const pk = (p: Record<string, number>) => Object.entries(p).map(([k, v]) => `pass@${k}=${v.toFixed(3)}`).join(' ');
        // a baseline eval beside it (Training-Free GRPO: the model without its experience library)
        run.log.info(`eval at step ${e.step}: ${pk(e.passAtK)}${e.baseline ? ` (${e.baseline.label ?? e.baseline.name}: ${pk(e.baseline.passAtK)})` : ''}`);
        break;
      }
      case 'end': run.status = e.status; run.log.info(`run ended: ${e.status}${e.reason ? ` (${e.reason})` : ''}`); break;
      default: break;
    }
    this.changeEmitter.fire({ run, event: e });
  }

  private onExit(run: ActiveRun, x: TrainerExit): void {
    run.exit = x;
    run.status = x.status;
    const parse = run.proc.eventsParsed ? ` (${run.proc.eventsParsed} events, ${(run.proc.parseMs * 1000 / run.proc.eventsParsed).toFixed(0)} µs/event parsing)` : '';
    run.log.info(`trainer exited: code ${x.code}${x.signal ? `, signal ${x.signal}` : ''}, status ${x.status}${x.markedByHost ? ' (status written by the extension)' : ''}${parse}`);
    run.phase = undefined;
    this.changeEmitter.fire({ run, exited: true });
    if (x.crashed) {
      run.log.error(x.message ?? 'trainer failed');
      this.crashReports.push({ runDir: run.runDir, message: x.message ?? 'the trainer exited unexpectedly' });
    }
    // completed, stopped or failed: say so, with the way to the results and to the log
    const n = endNotice(run.name, x, run);
    this.endNotices.push({ runDir: run.runDir, ...n });
    const show = n.severity === 'error' ? vscode.window.showErrorMessage : n.severity === 'warning' ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void show(n.text, ...n.actions).then((choice) => {
      if (choice === 'Show Log') run.log.show(true);
      else if (choice === 'Open Dashboard') void vscode.commands.executeCommand('rlLens.showDashboard', { runDir: run.runDir });
      else if (choice === 'Open Run') void vscode.commands.executeCommand('rlLens.openRun', { runDir: run.runDir });
      else if (choice === MODEL_FOLDERS_ACTION) void vscode.commands.executeCommand('workbench.action.openSettings', 'rlLens.modelFolders');
    });
  }

  private showProgress(run: ActiveRun): void {
    void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `RL Lens: ${run.name}`, cancellable: true }, (progress, token) => {
      token.onCancellationRequested(() => { if (run.proc.running) { run.log.info('stop requested (progress notification cancelled)'); run.proc.stop(); } });
      let lastFrac = 0;
      const sub = this.onDidChange((c) => {
        if (c.run !== run) return;
        if (c.event?.type === 'log' && c.event.phase) { progress.report({ message: `${formatPhase(c.event.phase)} (before RL step 1)` }); return; }
        if (c.event?.type !== 'step') return;
        const total = run.totalSteps;
        const frac = total ? Math.min(1, (run.step ?? 0) / total) : 0;
        const h = headline(run.metrics);
        const eta = formatEta(run.etaSeconds);
        progress.report({
          message: `step ${run.step}${total ? `/${total}` : ''}${h ? ` · ${h.key} ${h.value.toFixed(3)}` : ''}${eta ? ` · ETA ${eta}` : ''}`,
          increment: total ? Math.max(0, (frac - lastFrac) * 100) : undefined,
        });
        lastFrac = frac;
      });
      return run.proc.whenExited().finally(() => sub.dispose());
    });
  }

  stop(runDir: string): boolean {
    const r = this.get(runDir);
    if (!r?.proc.running) return false;
    r.log.info('stop requested');
    r.proc.stop();
    this.changeEmitter.fire({ run: r });
    return true;
  }

  dispose(): void {
    for (const r of this.runs.values()) if (r.proc.running) r.proc.stop();
    for (const l of this.logs.values()) l.dispose();
    this.changeEmitter.dispose();
  }
}
