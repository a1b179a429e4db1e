/**
 * Checkpoint diff (extension host): read-only report documents on the `rl-lens:` scheme and the Compare commands.
 *
 *   rlLens.compareCheckpoints   (tree multi-select: clicked node + selected nodes; or { runDir?, a, b, samples?, prompts? };
 *                                else quick picks: run → two checkpoints)
 *   rlLens.compareWithPrevious  (checkpoint node, { checkpoint } / { dir }, or a quick pick)
 *   rlLens.compareWithReference (the run's init checkpoint, else its SFT warm-start checkpoint, else its first checkpoint)
 *
 * A diff of A ↔ B shows report(A) on the left (no base: never a base-vs-itself pane) and report(B, base A) on the
 * right: same sections, same order,
 * so VS Code's diff editor lines up config, metrics, tensors, generations (fixed eval prompts, greedy) and pass@k.
 * Reports are computed by the trainer subprocess (`rl-lens report … --json`; the extension host never loads tfjs),
 * under a cancellable progress notification that kills the process on cancel; the CLI caches them in
 * `<checkpoint>/report.json`, and this module reads that cache first, so a second diff opens without a process.
 */
import type { ChildProcess } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { defaultSettings, getCachedReport, readCheckpointConfig, reportKey } from '../../report/cache';
import { renderReport } from '../../report/render';
import { escapeXml, passAtKSvg } from '../../report/chart';
import type { CheckpointReport, ReportSettings } from '../../report/types';
import { listCheckpoints, readManifest, type CheckpointEntry } from '../../runio/reader';
import { identicalCheckpoints, previousCheckpoint } from '../../runio/checkpointPairs';
import { runCli } from '../cliProcess';

export const REPORT_SCHEME = 'rl-lens';
export const REPORT_LANGUAGE = 'rl-lens-report';
export const PASS_AT_K_CHART_COMMAND = 'rlLens.showPassAtKChart';

export interface ReportRequest { ckpt: string; base?: string; settings: ReportSettings }
export interface CompareResult {
  left: vscode.Uri; right: vscode.Uri; title: string;
  /** reports this compare had to compute in a trainer subprocess (0 = both from memory or the on-disk cache) */
  computed: number;
}
export interface CompareArgs { runDir?: string; a?: string; b?: string; samples?: number; prompts?: number; checkpoint?: string; dir?: string }

export interface CheckpointDiffOptions {
  /** run folders the palette offers (the Runs tree's) */
  listRuns?: () => string[];
  log?: (message: string) => void;
}

/** `rl-lens:/<run>/<checkpoint>.rl-lens-report?<json request>` */
export function reportUri(req: ReportRequest): vscode.Uri {
  const run = path.basename(path.dirname(path.dirname(req.ckpt))) || 'checkpoint';
  // a readable tab title for a report opened alone: "step 20 vs step 10", not the folder names
  const label = req.base && req.base !== req.ckpt ? `${stepOf(req.ckpt)} vs ${stepOf(req.base)}` : stepOf(req.ckpt);
  return vscode.Uri.from({ scheme: REPORT_SCHEME, path: `/${run}/${label}.rl-lens-report`, query: JSON.stringify(req) });
}

export function parseReportUri(uri: vscode.Uri): ReportRequest {
  const req = JSON.parse(uri.query) as ReportRequest;
  if (!req || typeof req.ckpt !== 'string' || !req.settings) throw new Error(`not an RL Lens report address: ${uri.toString()}`);
  return req;
}

/** Where a tree node / argument points: a checkpoint folder. */
export function checkpointDirOf(a: unknown): string | undefined {
  if (!a) return undefined;
  if (typeof a === 'string') return a;
  if (a instanceof vscode.Uri) return a.fsPath;
  const o = a as { kind?: string; dir?: string; checkpoint?: string };
  if (o.kind === 'checkpoint' && typeof o.dir === 'string') return o.dir;
  if (typeof o.checkpoint === 'string') return o.checkpoint;
  if (typeof o.dir === 'string') return o.dir;
  return undefined;
}

function resolveCkpt(runDir: string | undefined, x: string): string {
  if (path.isAbsolute(x)) return x;
  if (runDir) {
    const inRun = path.join(runDir, 'checkpoints', x);
    if (fs.existsSync(inRun)) return inRun;
    return path.join(runDir, x);
  }
  return path.resolve(x);
}

function runOf(ckpt: string): string { return path.dirname(path.dirname(ckpt)); }
function stepOf(ckpt: string): string {
  try { const m = JSON.parse(fs.readFileSync(path.join(ckpt, 'checkpoint.json'), 'utf8')) as { step?: number }; if (typeof m.step === 'number') return `step ${m.step}`; } catch { /* name instead */ }
  return path.basename(ckpt);
}
function runName(runDir: string): string {
  try { const m = readManifest(runDir); return m.name ?? m.id; } catch { return path.basename(runDir); }
}

export class CheckpointDiff implements vscode.Disposable, vscode.TextDocumentContentProvider {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly memory = new Map<string, CheckpointReport>();
  private readonly running = new Set<ChildProcess>();
  /** processes started (for tests: a cached diff starts none) */
  processesStarted = 0;

  constructor(private readonly context: vscode.ExtensionContext, private readonly opts: CheckpointDiffOptions = {}) {}

  register(): vscode.Disposable[] {
    return [
      vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, this),
      vscode.commands.registerCommand('rlLens.compareCheckpoints', (a?: unknown, b?: unknown) => this.guard(() => this.compareCheckpoints(a, b))),
      vscode.commands.registerCommand('rlLens.compareWithPrevious', (a?: unknown) => this.guard(() => this.compareWithPrevious(a))),
      vscode.commands.registerCommand('rlLens.compareWithReference', (a?: unknown) => this.guard(() => this.compareWithReference(a))),
      // internal (CodeLens on a report's pass@k section): base vs this pass@k curves in a script-free webview
      vscode.commands.registerCommand(PASS_AT_K_CHART_COMMAND, (uri?: string | vscode.Uri) => this.showPassAtKChart(uri)),
      vscode.languages.registerCodeLensProvider({ scheme: REPORT_SCHEME, language: REPORT_LANGUAGE }, {
        provideCodeLenses: (doc) => {
          for (let i = 0; i < doc.lineCount; i++) {
            if (doc.lineAt(i).text.startsWith('## pass@k')) return [new vscode.CodeLens(new vscode.Range(i, 0, i, 0), { title: '$(graph-line) Show pass@k chart', command: PASS_AT_K_CHART_COMMAND, arguments: [doc.uri.toString()] })];
          }
          return [];
        },
      }),
    ];
  }

  private async guard(f: () => Promise<CompareResult | undefined>): Promise<CompareResult | undefined> {
    try { return await f(); } catch (e) {
      const m = (e as Error).message;
      this.opts.log?.(`compare checkpoints: ${m}`);
      void vscode.window.showErrorMessage(`RL Lens: ${m}`);
      return undefined;
    }
  }

  // ---- TextDocumentContentProvider ----
  async provideTextDocumentContent(uri: vscode.Uri, token: vscode.CancellationToken): Promise<string> {
    let req: ReportRequest;
    try { req = parseReportUri(uri); } catch (e) { return `# RL Lens: ${(e as Error).message}\n`; }
    try {
      const r = await this.report(req, token);
      return r ? renderReport(r) : '# RL Lens: report computation was cancelled. Close and reopen to compute it again.\n';
    } catch (e) {
      return `# RL Lens: could not compute the report of ${req.ckpt}\n\n${(e as Error).message}\n`;
    }
  }

  /** From memory, the on-disk cache, or the trainer subprocess. */
  async report(req: ReportRequest, token?: vscode.CancellationToken, progress?: (m: string) => void): Promise<CheckpointReport | undefined> {
    const key = reportKey(req.ckpt, req.base, req.settings);
    const mem = this.memory.get(key);
    if (mem) return mem;
    const cached = getCachedReport(req.ckpt, key);
    if (cached) { this.memory.set(key, cached); return cached; }
    const r = await this.spawnReport(req, token, progress);
    if (r) this.memory.set(key, r);
    return r;
  }

  private async spawnReport(req: ReportRequest, token?: vscode.CancellationToken, progress?: (m: string) => void): Promise<CheckpointReport | undefined> {
    const args = ['report', req.ckpt, ...(req.base ? ['--base', req.base] : []), '--samples', String(req.settings.samples), '--prompts', String(req.settings.numPrompts),
      '--seed', String(req.settings.seed), '--temperature', String(req.settings.temperature), req.settings.generations ? '--generations' : '--no-generations',
      '--json', '--progress-events'];
    this.processesStarted++;
    const out = await runCli({ extensionPath: this.context.extensionPath, args, token, onProgress: (p) => progress?.(p.message), log: this.opts.log, running: this.running });
    if (out === undefined) return undefined;
    try { return JSON.parse(out) as CheckpointReport; } catch (e) { throw new Error(`rl-lens report printed no valid JSON: ${(e as Error).message}`); }
  }

  /** Compute both reports (progress + cancel) and open the diff editor. */
  async diff(a: string, b: string, over: Partial<ReportSettings> = {}): Promise<CompareResult | undefined> {
    for (const d of [a, b]) if (!fs.existsSync(path.join(d, 'checkpoint.json'))) throw new Error(`${d} is not a checkpoint folder (no checkpoint.json)`);
    // the same weights on both sides (one folder, a step_N / step_N_final alias, byte-equal copies): every change is 0
    const same = identicalCheckpoints(a, b);
    if (same) throw new Error(`${same}. Pick two different checkpoints (e.g. Compare with Previous Checkpoint).`);
    const settings = defaultSettings(readCheckpointConfig(a), over);
    // the left is A alone: a report of A against itself (0% change everywhere, pass@k base = this) says nothing
    const left: ReportRequest = { ckpt: path.resolve(a), settings };
    const right: ReportRequest = { ckpt: path.resolve(b), base: path.resolve(a), settings };
    const runA = runOf(a), runB = runOf(b);
    const title = `RL Lens: ${stepOf(a)} ↔ ${stepOf(b)} (${runA === runB ? runName(runA) : `${runName(runA)} ↔ ${runName(runB)}`})`;
    const before = this.processesStarted;
    const ok = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'RL Lens: checkpoint reports', cancellable: true }, async (p, token) => {
      for (const [i, req] of [left, right].entries()) {
        p.report({ message: `${path.basename(req.ckpt)} (${i + 1}/2)` });
        const r = await this.report(req, token, (m) => p.report({ message: m }));
        if (!r || token.isCancellationRequested) return false;
      }
      return true;
    });
    if (!ok) { this.opts.log?.('compare checkpoints: cancelled'); return undefined; }
    const l = reportUri(left), r = reportUri(right);
    await vscode.commands.executeCommand('vscode.diff', l, r, title, { preview: false });
    return { left: l, right: r, title, computed: this.processesStarted - before };
  }

  /** The pass@k chart of a report document (base vs this); returns the panel's HTML (tests). */
  async showPassAtKChart(uri?: string | vscode.Uri): Promise<string | undefined> {
    // a string from the CodeLens, a Uri from the editor-title button, nothing from the palette
    const target = typeof uri === 'string' ? vscode.Uri.parse(uri) : uri instanceof vscode.Uri ? uri : vscode.window.activeTextEditor?.document.uri;
    if (!target || target.scheme !== REPORT_SCHEME) { void vscode.window.showInformationMessage('RL Lens: open a checkpoint report (Compare Checkpoints) first.'); return undefined; }
    const r = await this.report(parseReportUri(target));
    if (!r || !r.eval.passAtK.k.length) { void vscode.window.showInformationMessage('RL Lens: this report has no pass@k (generations were not computed).'); return undefined; }
    const p = r.eval.passAtK;
    const b = r.baseEval?.passAtK;
    const series = [...(b && r.base && r.base.dir !== r.checkpoint.dir && b.samples === p.samples ? [{ label: `base ${r.base.name}`, values: p.k.map((k) => b.values[b.k.indexOf(k)] ?? 0) }] : []), { label: r.checkpoint.name, values: p.values }];
    const title = `pass@k: ${r.base && r.base.dir !== r.checkpoint.dir ? `${r.base.name} vs ` : ''}${r.checkpoint.name}`;
    const panel = vscode.window.createWebviewPanel('rlLens.passAtK', title, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, { enableScripts: false, localResourceRoots: [] });
    this.disposables.push(panel);
    const rows = p.k.map((k, i) => `<tr><td>pass@${k}</td>${series.length > 1 ? `<td>${series[0].values[i].toFixed(4)}</td>` : ''}<td>${p.values[i].toFixed(4)}</td></tr>`).join('');
    const nonce = crypto.randomBytes(16).toString('base64');
    const html = `<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-${nonce}';">
<style nonce="${nonce}">body{font-family:var(--vscode-font-family);color:var(--vscode-foreground)} svg{max-width:640px;display:block} td,th{padding:2px 10px;text-align:right} th:first-child,td:first-child{text-align:left}</style></head>
<body><h3>${escapeXml(title)}</h3><p>${p.numPrompts} prompts × n = ${p.samples} samples, temperature ${p.temperature}, seed ${p.seed}; unbiased estimator 1 − C(n−c,k)/C(n,k).</p>
${passAtKSvg(p.k, series)}
<table><tr><th>k</th>${series.map((x) => `<th>${escapeXml(x.label)}</th>`).join('')}</tr>${rows}</table></body></html>`;
    panel.webview.html = html;
    return html;
  }

  private overrides(x: unknown): Partial<ReportSettings> {
    const o = (x && typeof x === 'object' ? x : {}) as CompareArgs;
    return { ...(o.samples ? { samples: o.samples } : {}), ...(o.prompts ? { numPrompts: o.prompts } : {}) };
  }

  async compareCheckpoints(a?: unknown, b?: unknown): Promise<CompareResult | undefined> {
    // tree multi-select: (clicked node, all selected nodes)
    if (Array.isArray(b)) {
      const dirs = [...new Set(b.map(checkpointDirOf).filter((d): d is string => Boolean(d) && fs.existsSync(path.join(d!, 'checkpoint.json'))))];
      if (dirs.length >= 2) {
        if (dirs.length > 2) void vscode.window.showInformationMessage(`RL Lens: ${dirs.length} checkpoints selected; comparing the first two by step.`);
        const sorted = dirs.map((d) => ({ d, s: Number(stepOf(d).replace('step ', '')) || 0 })).sort((x, y) => x.s - y.s);
        return this.diff(sorted[0].d, sorted[1].d);
      }
    }
    const o = (a && typeof a === 'object' && !(a instanceof vscode.Uri) ? a : {}) as CompareArgs & { kind?: string };
    if (o.a && o.b) return this.diff(resolveCkpt(o.runDir, o.a), resolveCkpt(o.runDir, o.b), this.overrides(o));
    // one checkpoint given (a single tree node): pick the other one from its run
    const one = checkpointDirOf(a);
    if (one && fs.existsSync(path.join(one, 'checkpoint.json'))) {
      const other = await this.pickCheckpoint(runOf(one), `Compare ${path.basename(one)} with…`, one);
      return other ? this.diff(other, one) : undefined;
    }
    const runDir = o.runDir ?? await this.pickRun();
    if (!runDir) return undefined;
    const first = await this.pickCheckpoint(runDir, 'Compare checkpoints: the base (left)');
    if (!first) return undefined;
    const second = await this.pickCheckpoint(runDir, `Compare ${path.basename(first)} with… (right)`, first);
    return second ? this.diff(first, second) : undefined;
  }

  async compareWithPrevious(a?: unknown): Promise<CompareResult | undefined> {
    const dir = checkpointDirOf(a) ?? await this.pickAny('Compare with previous: choose a checkpoint');
    if (!dir) return undefined;
    // the latest checkpoint with a smaller step: a same-step alias (step_N and step_N_final) is the same weights
    const prev = previousCheckpoint(ckpts(runOf(dir)), dir);
    if (!prev) { void vscode.window.showInformationMessage(`RL Lens: ${path.basename(dir)} is the first checkpoint of its run; there is no previous one.`); return undefined; }
    return this.diff(prev.dir, dir, this.overrides(a));
  }

  /** The reference of a checkpoint: the run's init checkpoint (the SFT model it started from), else its warm-start checkpoint (tag sft), else the run's first checkpoint. */
  referenceOf(dir: string): string | undefined {
    const runDir = runOf(dir);
    try {
      const init = (readManifest(runDir).config?.init as { checkpoint?: string } | undefined)?.checkpoint;
      if (init) {
        const p = path.isAbsolute(init) ? init : path.resolve(runDir, init);
        if (fs.existsSync(path.join(p, 'checkpoint.json'))) return p;
      }
    } catch { /* no manifest: fall back to the first checkpoint */ }
    const list = ckpts(runDir).filter((c) => path.resolve(c.dir) !== path.resolve(dir));
    const sft = list.find((c) => c.meta?.tag === 'sft');
    const first = ckpts(runDir)[0];
    return sft?.dir ?? (first && path.resolve(first.dir) !== path.resolve(dir) ? first.dir : undefined);
  }

  async compareWithReference(a?: unknown): Promise<CompareResult | undefined> {
    const dir = checkpointDirOf(a) ?? await this.pickAny('Compare with reference: choose a checkpoint');
    if (!dir) return undefined;
    const ref = this.referenceOf(dir);
    if (!ref) { void vscode.window.showInformationMessage(`RL Lens: ${path.basename(dir)} has no reference: its run has no init checkpoint and it is the run's first checkpoint.`); return undefined; }
    return this.diff(ref, dir, this.overrides(a));
  }

  private async pickRun(): Promise<string | undefined> {
    const runs = (this.opts.listRuns?.() ?? []).filter((r) => ckpts(r).length > 0);
    const browse = '$(folder-opened) Browse for a run folder…';
    const items = [...runs.map((r) => ({ label: runName(r), description: `${ckpts(r).length} checkpoints`, detail: r })), { label: browse }];
    const pick = await vscode.window.showQuickPick(items, { placeHolder: 'Compare checkpoints: choose a run' });
    if (!pick) return undefined;
    if (pick.label === browse) {
      const f = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this run folder' });
      return f?.[0]?.fsPath;
    }
    return (pick as { detail?: string }).detail;
  }

  private async pickCheckpoint(runDir: string, placeHolder: string, exclude?: string): Promise<string | undefined> {
    const list = ckpts(runDir).filter((c) => !exclude || path.resolve(c.dir) !== path.resolve(exclude));
    if (!list.length) { void vscode.window.showInformationMessage(`RL Lens: no other checkpoint in ${runDir}.`); return undefined; }
    const pick = await vscode.window.showQuickPick(list.map((c) => ({
      label: c.name, description: `step ${c.meta?.step}${c.meta?.tag ? ` · ${c.meta.tag}` : ''}${c.meta?.eval?.passAtK?.['1'] !== undefined ? ` · pass@1 ${c.meta.eval.passAtK['1'].toFixed(3)}` : ''}`, detail: c.dir,
    })), { placeHolder });
    return pick?.detail;
  }

  private async pickAny(placeHolder: string): Promise<string | undefined> {
    const runDir = await this.pickRun();
    return runDir ? this.pickCheckpoint(runDir, placeHolder) : undefined;
  }

  dispose(): void {
    for (const c of this.running) c.kill('SIGKILL');
    this.running.clear();
    for (const d of this.disposables) d.dispose();
  }
}

function ckpts(runDir: string): CheckpointEntry[] {
  return listCheckpoints(runDir).filter((c) => c.meta);
}

/** Registers the provider and the three Compare commands; returns one Disposable for all. */
export function registerCheckpointDiff(context: vscode.ExtensionContext, opts: CheckpointDiffOptions = {}): vscode.Disposable & { diff: CheckpointDiff } {
  const diff = new CheckpointDiff(context, opts);
  const regs = diff.register();
  const all = vscode.Disposable.from(diff, ...regs) as vscode.Disposable & { diff: CheckpointDiff };
  all.diff = diff;
  return all;
}
