/**
 * One trainer subprocess, supervised (pure Node, no `vscode`, so node:test can drive it with a fake trainer).
 *
 * - spawned detached (its own process group) so Stop can kill the whole tree (`process.kill(-pid)`);
 * - stdout = one JSON TrainerEvent per line (`--events stdout`), parsed incrementally as chunks arrive;
 * - stderr = human log lines, handed to `onStderr` (the extension puts them in a LogOutputChannel);
 * - stop(): ControlMessage `{"type":"stop"}` (src/shared/control.ts) on stdin + SIGTERM, then SIGKILL to the process group after `killAfterMs`;
 * - on exit without an `end` event (crash, kill -9, exception before the trainer could write), the run's
 *   manifest is marked `failed` (or written, if the trainer died before creating it), so the tree shows why.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { FILES, RUN_FORMAT, RUN_FORMAT_VERSION, type RunManifest, type RunStatus, type TrainerEvent } from '../shared/runFormat';
import { encodeControlMessage, type ControlMessage } from '../shared/control';
import { writeFileAtomic, appendJsonLine } from '../runio/writer';
import { EventLineParser, type ParsedLine } from './eventParser';

export interface TrainerLaunch {
  /** the Node to run: VS Code's own (process.execPath + ELECTRON_RUN_AS_NODE=1) or the rlLens.nodePath setting */
  nodePath: string;
  /** true when nodePath is an Electron binary that needs ELECTRON_RUN_AS_NODE=1 */
  electronAsNode?: boolean;
  /** the CLI entry (bin/rl-lens.js of the extension, or a fake trainer in tests) */
  cliPath: string;
  configPath: string;
  runDir: string;
  backend?: string;
  /** workspace trust: passed as RL_LENS_TRUSTED=1/0; the trainer refuses custom reward modules when 0 */
  trusted: boolean;
  extraArgs?: string[];
  env?: Record<string, string | undefined>;
  /** ms between the graceful stop request and SIGKILL of the process group */
  killAfterMs?: number;
}

export interface TrainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** final status: from the trainer's `end` event, else derived (stopped if we asked, failed otherwise) */
  status: RunStatus;
  /** the trainer ended without an `end` event or with a failure */
  crashed: boolean;
  /** error message (from an `error` event or the stderr tail) */
  message?: string;
  /** true if this supervisor wrote the failed status into the manifest */
  markedByHost: boolean;
}

export interface TrainerCallbacks {
  onEvent?(e: TrainerEvent): void;
  onGarbage?(p: Extract<ParsedLine, { kind: 'garbage' }>): void;
  onStderr?(text: string): void;
  onExit?(x: TrainerExit): void;
}

export function buildTrainerArgs(l: TrainerLaunch): string[] {
  const args = [l.cliPath, 'train', '--config', l.configPath, '--out', l.runDir, '--events', 'stdout'];
  if (l.backend && l.backend !== 'auto') args.push('--backend', l.backend);
  // the trainer refuses user code (task.rewardModule) with --untrusted; RL_LENS_TRUSTED=0 says the same in the env
  if (!l.trusted) args.push('--untrusted');
  if (l.extraArgs) args.push(...l.extraArgs);
  return args;
}

export class TrainerProcess {
  readonly launch: TrainerLaunch;
  private child: ChildProcess | undefined;
  private readonly parser = new EventLineParser();
  private readonly cb: TrainerCallbacks;
  private endEvent: Extract<TrainerEvent, { type: 'end' }> | undefined;
  private lastError: string | undefined;
  private stderrTail = '';
  private stopRequested = false;
  private killTimer: NodeJS.Timeout | undefined;
  private exitInfo: TrainerExit | undefined;
  private readonly exited: Promise<TrainerExit>;
  private resolveExit!: (x: TrainerExit) => void;
  /** total time spent parsing stdout (ms) and events parsed: the cost per event on the extension host */
  parseMs = 0;
  eventsParsed = 0;

  constructor(launch: TrainerLaunch, cb: TrainerCallbacks = {}) {
    this.launch = launch;
    this.cb = cb;
    this.exited = new Promise((r) => { this.resolveExit = r; });
  }

  get pid(): number | undefined { return this.child?.pid; }
  get running(): boolean { return !!this.child && !this.exitInfo; }
  get exit(): TrainerExit | undefined { return this.exitInfo; }
  get stopping(): boolean { return this.stopRequested; }
  whenExited(): Promise<TrainerExit> { return this.exited; }

  start(): void {
    if (this.child) throw new Error('trainer already started');
    const l = this.launch;
    fs.mkdirSync(l.runDir, { recursive: true });
    const env: Record<string, string | undefined> = { ...process.env, ...l.env, RL_LENS_TRUSTED: l.trusted ? '1' : '0' };
    if (l.electronAsNode) env.ELECTRON_RUN_AS_NODE = '1';
    else delete env.ELECTRON_RUN_AS_NODE;
    const child = spawn(l.nodePath, buildTrainerArgs(l), {
      cwd: l.runDir, env: env as NodeJS.ProcessEnv, detached: true, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true,
    });
    this.child = child;
    child.stdout!.on('data', (b: Buffer) => this.handle(this.timedParse(() => this.parser.push(b))));
    child.stderr!.on('data', (b: Buffer) => {
      const s = b.toString('utf8');
      this.stderrTail = (this.stderrTail + s).slice(-4000);
      this.cb.onStderr?.(s);
    });
    child.stdin!.on('error', () => { /* trainer closed stdin or exited: ignore (EPIPE) */ });
    child.on('error', (err) => {
      // spawn failure (bad nodePath...): no 'exit' will follow
      this.stderrTail += `\n${err.message}`;
      this.cb.onStderr?.(`failed to start ${l.nodePath}: ${err.message}\n`);
      this.finish(null, null, `could not start the trainer with ${l.nodePath}: ${err.message} (check the rlLens.nodePath setting)`);
    });
    child.on('close', (code, signal) => {
      this.handle(this.timedParse(() => this.parser.end()));
      this.finish(code, signal);
    });
  }

  private timedParse(f: () => ParsedLine[]): ParsedLine[] {
    const t0 = performance.now();
    const r = f();
    this.parseMs += performance.now() - t0;
    return r;
  }

  private handle(lines: ParsedLine[]): void {
    for (const p of lines) {
      if (p.kind === 'garbage') { this.cb.onGarbage?.(p); continue; }
      this.eventsParsed++;
      const e = p.event;
      if (e.type === 'end') this.endEvent = e;
      if (e.type === 'error') this.lastError = e.message;
      try { this.cb.onEvent?.(e); } catch { /* a listener bug must not kill supervision */ }
    }
  }

  /** Ask the trainer to stop gracefully (stdin message + SIGTERM); kill its process group after killAfterMs. */
  stop(): void {
    if (!this.child || this.exitInfo) return;
    this.stopRequested = true;
    this.send({ type: 'stop' });
    try { this.child.kill('SIGTERM'); } catch { /* ignore */ }
    if (!this.killTimer) {
      this.killTimer = setTimeout(() => this.kill(), this.launch.killAfterMs ?? 10_000);
      this.killTimer.unref?.();
    }
  }

  /** Write one control message to the trainer's stdin (ignored once it closed stdin or exited). */
  private send(m: ControlMessage): void {
    try { this.child?.stdin?.write(encodeControlMessage(m)); } catch { /* ignore */ }
  }

  /** Kill the whole process group now. */
  kill(): void {
    const pid = this.child?.pid;
    if (!pid || this.exitInfo) return;
    try { process.kill(-pid, 'SIGKILL'); } catch { try { this.child!.kill('SIGKILL'); } catch { /* gone */ } }
  }

  private finish(code: number | null, signal: NodeJS.Signals | null, spawnError?: string): void {
    if (this.exitInfo) return;
    if (this.killTimer) clearTimeout(this.killTimer);
    // children of the trainer (if any) must not outlive it
    const pid = this.child?.pid;
    if (pid) { try { process.kill(-pid, 'SIGKILL'); } catch { /* group already gone */ } }
    let status: RunStatus;
    let crashed = false;
    let message: string | undefined;
    if (this.endEvent) {
      status = this.endEvent.status;
      if (status === 'failed') { crashed = true; message = this.lastError ?? this.endEvent.reason; }
    } else if (this.stopRequested) {
      status = 'stopped';
      message = 'stopped before the trainer wrote its final status';
    } else {
      status = 'failed';
      crashed = true;
      message = spawnError ?? this.lastError ?? crashMessage(code, signal, this.stderrTail);
    }
    let markedByHost = false;
    if (!this.endEvent) {
      try { markedByHost = markRunEnded(this.launch.runDir, status, message, this.launch); } catch { /* best effort */ }
    }
    this.exitInfo = { code, signal, status, crashed, message, markedByHost };
    try { this.cb.onExit?.(this.exitInfo); } catch { /* ignore */ }
    this.resolveExit(this.exitInfo);
  }
}

function crashMessage(code: number | null, signal: NodeJS.Signals | null, stderrTail: string): string {
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  const all = stderrTail.trim().split('\n').map((l) => l.trim()).filter(Boolean);
  // the most telling line first: the last one that names an error, else the last lines
  const errAt = all.map((l) => /\b(error|exception|fatal|panic|abort)/i.test(l) && !/^at /.test(l)).lastIndexOf(true);
  const lines = (errAt >= 0 ? all.slice(errAt, errAt + 2) : all.slice(-3)).join(' | ');
  return `the trainer ${how} without finishing the run${lines ? `: ${lines}` : ''}`;
}

/**
 * Write the final status into the run's manifest when the trainer could not (crash, kill -9, spawn failure).
 * Leaves a manifest the trainer already finalised alone. Creates a minimal one if the trainer died before
 * writing any, so the failed run still shows in the tree with its error. Returns true if it wrote.
 */
export function markRunEnded(runDir: string, status: RunStatus, message: string | undefined, launch?: Pick<TrainerLaunch, 'configPath'>): boolean {
  const file = path.join(runDir, FILES.manifest);
  const now = new Date().toISOString();
  let m: RunManifest | undefined;
  try { m = JSON.parse(fs.readFileSync(file, 'utf8')) as RunManifest; } catch { m = undefined; }
  if (m && m.status !== 'running') return false;
  if (!m) {
    let config: Record<string, unknown> = {};
    try { if (launch) config = JSON.parse(stripJsonComments(fs.readFileSync(launch.configPath, 'utf8'))) as Record<string, unknown>; } catch { /* keep empty */ }
    m = {
      format: RUN_FORMAT, formatVersion: RUN_FORMAT_VERSION, id: path.basename(runDir), status, startedAt: now,
      algorithm: typeof config.algorithm === 'string' ? config.algorithm : 'unknown',
      task: typeof config.task === 'string' ? config.task : undefined, config,
    };
  }
  m = { ...m, status, updatedAt: now, endedAt: now };
  if (status === 'failed' && message) m.error = { message };
  fs.mkdirSync(runDir, { recursive: true });
  writeFileAtomic(file, JSON.stringify(m, null, 2) + '\n');
  try {
    if (status === 'failed' && message) appendJsonLine(path.join(runDir, FILES.events), { type: 'error', time: now, message: `[extension] ${message}` });
    appendJsonLine(path.join(runDir, FILES.events), { type: 'end', time: now, status, reason: 'written by the RL Lens extension: the trainer exited without an end event' });
  } catch { /* ignore */ }
  return true;
}

/** Remove // and /* *\/ comments and trailing commas from JSONC text (strings are respected). */
export function stripJsonComments(text: string): string {
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '/' && text[i + 1] === '*') {
      const e = text.indexOf('*/', i + 2);
      i = e < 0 ? n : e + 2;
    } else { out += c; i++; }
  }
  return out.replace(/,(\s*[}\]])/g, '$1');
}
