/**
 * "What RL changed, token by token" in the editor (issue 21): commands that pick two sides and a set of completions,
 * compute the comparison with `rl-lens diff-tokens … --json --progress-events` as a trainer subprocess (cancellable
 * progress notification; Cancel kills the process: ../cliProcess.ts, shared with the checkpoint report), and open the
 * token comparison webview (panel.ts). The cache (`<B>/token-diff/<key>/`, runio/tokenDiff.ts) is read first, so a
 * second open starts no process.
 *
 *   rlLens.compareTokens          tree multi-select (two checkpoints: lower step = A); a checkpoint node (pick the other:
 *                                 base model, previous, reference or any checkpoint of its run); an `rl-lens:` report
 *                                 document (CodeLens / editor-title button: its base → its checkpoint); or
 *                                 { a, b, completions?, runDir? } (a = a checkpoint, "base" or a model); else quick picks
 *   rlLens.compareTokensWithBase  a checkpoint node (or a quick pick): its base model, previous checkpoint or reference
 * Completions: a rollout step of B's run (quick pick of the steps that have rollouts) or a JSONL file (open dialog).
 */
import type { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { BASE_SIDE, baseModelOf, defaultTokenDiffDir, parseSide, readTokenDiffSummary, tokenDiffKey, type CompletionSource, type TokenDiffSide } from '../../runio/tokenDiff';
import { listCheckpoints, listRolloutSteps, readManifest, type CheckpointEntry } from '../../runio/reader';
import { REPORT_LANGUAGE, REPORT_SCHEME, checkpointDirOf, parseReportUri } from '../checkpointDiff';
import { runCli } from '../cliProcess';
import { identicalCheckpoints, previousCheckpoint, readCheckpointStep, referenceLabel } from '../../runio/checkpointPairs';
import { TokenDiffData } from './data';
import { TOKEN_DIFF_VIEW_TYPE, TokenDiffPanel } from './panel';

export const COMPARE_TOKENS_COMMAND = 'rlLens.compareTokens';
export const COMPARE_TOKENS_BASE_COMMAND = 'rlLens.compareTokensWithBase';

export interface TokenDiffOptions {
  /** run folders the palette offers (the Runs tree's) */
  listRuns?: () => string[];
  /** the reference checkpoint of a checkpoint (CheckpointDiff.referenceOf) */
  referenceOf?: (dir: string) => string | undefined;
  log?: (message: string) => void;
}

export interface CompareTokensArgs { a?: string; b?: string; runDir?: string; completions?: string; step?: number }

export interface CompareTokensResult {
  dir: string;
  /** from the cache (no process started) */
  cached: boolean;
  panel: TokenDiffPanel;
}

const isCkpt = (d: string | undefined): d is string => Boolean(d) && fs.existsSync(path.join(d!, 'checkpoint.json'));
function runOf(ckpt: string): string { return path.dirname(path.dirname(ckpt)); }
function ckpts(runDir: string): CheckpointEntry[] { try { return listCheckpoints(runDir).filter((c) => c.meta); } catch { return []; } }
function stepOf(dir: string): number { return readCheckpointStep(dir) ?? 0; }
function runName(runDir: string): string {
  try { const m = readManifest(runDir); return m.name ?? m.id; } catch { return path.basename(runDir); }
}

export class TokenDiffCommands implements vscode.Disposable {
  private readonly running = new Set<ChildProcess>();
  private readonly panels = new Map<string, TokenDiffPanel>();
  /** processes started (tests: a cached comparison starts none) */
  processesStarted = 0;
  private readonly cancels = new Set<vscode.CancellationTokenSource>();

  /** Cancel every comparison being computed (as its notification's Cancel does: the processes are killed). */
  cancelAll(): void { for (const c of this.cancels) c.cancel(); }

  /** pids of the diff-tokens processes running now (tests) */
  runningPids(): number[] { return [...this.running].map((c) => c.pid).filter((p): p is number => typeof p === 'number'); }

  constructor(private readonly context: vscode.ExtensionContext, private readonly opts: TokenDiffOptions = {}) {}

  register(): vscode.Disposable[] {
    return [
      vscode.commands.registerCommand(COMPARE_TOKENS_COMMAND, (a?: unknown, b?: unknown) => this.guard(() => this.compareTokens(a, b))),
      vscode.commands.registerCommand(COMPARE_TOKENS_BASE_COMMAND, (a?: unknown) => this.guard(() => this.compareWithBase(a))),
      // a report with a base (the right side of a checkpoint diff): compare the tokens of the same two checkpoints
      vscode.languages.registerCodeLensProvider({ scheme: REPORT_SCHEME, language: REPORT_LANGUAGE }, {
        provideCodeLenses: (doc) => {
          let req: ReturnType<typeof parseReportUri>;
          try { req = parseReportUri(doc.uri); } catch { return []; }
          if (!req.base || doc.lineCount === 0) return [];
          return [new vscode.CodeLens(new vscode.Range(0, 0, 0, 0), { title: `$(diff-multiple) Compare tokens: step ${stepOf(req.base)} → step ${stepOf(req.ckpt)}`, tooltip: 'What RL changed, token by token: the same completions under both checkpoints', command: COMPARE_TOKENS_COMMAND, arguments: [doc.uri.toString()] })];
        },
      }),
      // restore a panel after a reload from the folder its page saved (only a finished comparison folder; else close it)
      vscode.window.registerWebviewPanelSerializer(TOKEN_DIFF_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel, state: { runDirs?: unknown } | undefined) => {
          const dir = Array.isArray(state?.runDirs) && typeof state.runDirs[0] === 'string' ? state.runDirs[0] : undefined;
          if (!dir || !readTokenDiffSummary(dir) || this.panels.has(path.resolve(dir))) { panel.dispose(); return; }
          try { this.track(path.resolve(dir), new TokenDiffPanel(panel, this.context.extensionUri, new TokenDiffData(dir), (m) => this.opts.log?.(m))); } catch (e) { this.opts.log?.(`restore token comparison ${dir}: ${(e as Error).message}`); panel.dispose(); }
        },
      }),
    ];
  }

  private async guard<T>(f: () => Promise<T | undefined>): Promise<T | undefined> {
    try { return await f(); } catch (e) {
      const m = (e as Error).message;
      this.opts.log?.(`compare tokens: ${m}`);
      void vscode.window.showErrorMessage(`RL Lens: ${m}`);
      return undefined;
    }
  }

  async compareTokens(a?: unknown, b?: unknown): Promise<CompareTokensResult | undefined> {
    // tree multi-select: (clicked node, all selected nodes)
    if (Array.isArray(b)) {
      const dirs = [...new Set(b.map(checkpointDirOf).filter(isCkpt))];
      if (dirs.length >= 2) {
        if (dirs.length > 2) void vscode.window.showInformationMessage(`RL Lens: ${dirs.length} checkpoints selected; comparing the tokens of the first two by step.`);
        const sorted = dirs.map((d) => ({ d, s: stepOf(d) })).sort((x, y) => x.s - y.s);
        return this.compare(sorted[0].d, sorted[1].d);
      }
    }
    // a report document: the CodeLens passes its uri as a string, the editor-title button a Uri; the palette none
    const uri = typeof a === 'string' && a.startsWith(`${REPORT_SCHEME}:`) ? vscode.Uri.parse(a) : a instanceof vscode.Uri ? a
      : a === undefined && vscode.window.activeTextEditor?.document.uri.scheme === REPORT_SCHEME ? vscode.window.activeTextEditor.document.uri : undefined;
    if (uri?.scheme === REPORT_SCHEME) {
      const req = parseReportUri(uri);
      if (req.base) return this.compare(req.base, req.ckpt);
      return this.pickOtherAndCompare(req.ckpt);
    }
    const o = (a && typeof a === 'object' && !(a instanceof vscode.Uri) ? a : {}) as CompareTokensArgs & { kind?: string };
    if (o.a && o.b) {
      const res = (x: string) => (x === BASE_SIDE || /^hf:/.test(x) || path.isAbsolute(x) || !o.runDir ? x : fs.existsSync(path.join(o.runDir, 'checkpoints', x)) ? path.join(o.runDir, 'checkpoints', x) : path.join(o.runDir, x));
      return this.compare(res(o.a), res(o.b), o.completions ?? (o.step !== undefined ? `${o.runDir ?? runOf(res(o.b))}:${o.step}` : undefined));
    }
    const one = checkpointDirOf(a);
    if (isCkpt(one)) return this.pickOtherAndCompare(one);
    const runDir = o.runDir ?? await this.pickRun();
    if (!runDir) return undefined;
    const b2 = await this.pickCheckpoint(runDir, 'Compare tokens: the newer checkpoint (B)');
    return b2 ? this.pickOtherAndCompare(b2) : undefined;
  }

  async compareWithBase(a?: unknown): Promise<CompareTokensResult | undefined> {
    let dir = checkpointDirOf(a);
    if (!isCkpt(dir)) {
      const runDir = await this.pickRun();
      dir = runDir ? await this.pickCheckpoint(runDir, 'Compare tokens with base / previous: choose a checkpoint') : undefined;
    }
    return dir ? this.pickOtherAndCompare(dir, true) : undefined;
  }

  /** A is the base model, the previous checkpoint, the reference or another checkpoint of B's run (quick pick). */
  private async pickOtherAndCompare(b: string, baseFirst = false): Promise<CompareTokensResult | undefined> {
    type Item = vscode.QuickPickItem & { side?: string };
    const items: Item[] = [];
    const base = baseModelOf(b);
    if (base) items.push({ label: `$(package) Base model (${base})`, description: '', detail: 'the pretrained model the run started from (model.pretrained)', side: BASE_SIDE });
    const list = ckpts(runOf(b));
    const stepB = stepOf(b);
    // the latest checkpoint with a smaller step: a same-step alias (step_N and step_N_final) holds the same weights
    const prev = previousCheckpoint(list, b);
    if (prev) items.push({ label: '$(history) Previous checkpoint', description: `${prev.name} (step ${prev.meta?.step})`, side: prev.dir });
    const ref = this.opts.referenceOf?.(b);
    if (ref && path.resolve(ref) !== path.resolve(prev?.dir ?? '') && !(path.resolve(runOf(ref)) === path.resolve(runOf(b)) && stepOf(ref) === stepB)) {
      items.push({ label: `$(references) ${referenceLabel(ref, list)}`, description: `${path.basename(ref)} (step ${stepOf(ref)})`, side: ref });
    }
    if (!baseFirst) for (const c of list) if (path.resolve(c.dir) !== path.resolve(b) && c.meta?.step !== stepB && c.dir !== prev?.dir && c.dir !== ref) items.push({ label: c.name, description: `step ${c.meta?.step}${c.meta?.tag ? ` · ${c.meta.tag}` : ''}`, side: c.dir });
    if (!items.length) { void vscode.window.showInformationMessage(`RL Lens: ${path.basename(b)} has no base model, previous checkpoint or reference to compare with.`); return undefined; }
    const pick = items.length === 1 && baseFirst ? items[0] : await vscode.window.showQuickPick(items, { placeHolder: `Compare tokens of ${path.basename(b)} with… (A)` });
    return pick?.side ? this.compare(pick.side, b) : undefined;
  }

  /** Completions for B: a rollout step of its run (newest first) or a JSONL file. */
  private async pickCompletions(b: string): Promise<string | undefined> {
    let steps: number[] = [];
    try { steps = listRolloutSteps(runOf(b)); } catch { /* not in a run */ }
    const jsonl = '$(file) From a JSONL file of {"prompt", "completion"} pairs…';
    type Item = vscode.QuickPickItem & { arg?: string };
    const items: Item[] = [...steps.slice().reverse().map((s) => ({ label: `rollouts of step ${s}`, description: runName(runOf(b)), arg: `${runOf(b)}:${s}` })), { label: jsonl }];
    const pick = steps.length ? await vscode.window.showQuickPick(items, { placeHolder: 'Compare tokens: which completions (teacher-forced under both)' }) : items[0];
    if (!pick) return undefined;
    if (pick.arg) return pick.arg;
    const f = await vscode.window.showOpenDialog({ canSelectFiles: true, canSelectFolders: false, filters: { 'JSON Lines': ['jsonl'] }, openLabel: 'Compare these completions' });
    return f?.[0]?.fsPath;
  }

  /** Read the cache, else compute in the trainer subprocess (progress, Cancel); then open the view. */
  async compare(a: string, b: string, completions?: string): Promise<CompareTokensResult | undefined> {
    if (!isCkpt(b)) throw new Error(`${b} is not a checkpoint folder (no checkpoint.json)`);
    const sideA: TokenDiffSide = parseSide(a, b);
    if (sideA.kind === 'checkpoint') { const same = identicalCheckpoints(sideA.dir, b); if (same) throw new Error(same); }
    const src = completions ?? await this.pickCompletions(b);
    if (!src) return undefined;
    const source = sourceOf(src);
    const key = tokenDiffKey(sideA, { kind: 'checkpoint', dir: b }, source, { topK: 5, minCount: 3 });
    const cacheDir = defaultTokenDiffDir({ kind: 'checkpoint', dir: b }, key)!;
    if (readTokenDiffSummary(cacheDir)) { this.opts.log?.(`compare tokens: cached ${cacheDir}`); return { dir: cacheDir, cached: true, panel: this.open(cacheDir) }; }
    this.processesStarted++;
    const title = `RL Lens: comparing tokens (${sideA.kind === 'pretrained' ? 'base' : `step ${stepOf(sideA.dir)}`} → step ${stepOf(b)})`;
    const out = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (p, token) => {
      let pct = 0;
      // Cancel in the notification, or cancelAll() (deactivation, tests): the process is killed
      const cts = new vscode.CancellationTokenSource();
      this.cancels.add(cts);
      const sub = token.onCancellationRequested(() => cts.cancel());
      return runCli({
        extensionPath: this.context.extensionPath, token: cts.token, log: this.opts.log, running: this.running,
        args: ['diff-tokens', a, b, '--completions', src, '--json', '--progress-events'],
        onProgress: (ev) => {
          const now = ev.total ? Math.round((100 * (ev.done ?? 0)) / ev.total) : pct;
          p.report({ message: ev.message, ...(now > pct ? { increment: now - pct } : {}) });
          pct = Math.max(pct, now);
        },
      }).finally(() => { sub.dispose(); this.cancels.delete(cts); cts.dispose(); });
    });
    if (out === undefined) { this.opts.log?.('compare tokens: cancelled'); return undefined; }
    let dir: string;
    try { dir = (JSON.parse(out.trim().split('\n').pop() ?? '') as { dir: string }).dir; } catch (e) { throw new Error(`rl-lens diff-tokens printed no JSON line: ${(e as Error).message}`); }
    return { dir, cached: false, panel: this.open(dir) };
  }

  /** Open (or reveal) the view of a comparison folder. */
  open(dir: string): TokenDiffPanel {
    const key = path.resolve(dir);
    const existing = this.panels.get(key);
    if (existing) { existing.panel.reveal(undefined, false); return existing; }
    const data = new TokenDiffData(dir);
    const panel = vscode.window.createWebviewPanel(TOKEN_DIFF_VIEW_TYPE, `RL Lens ${data.title()}`, { viewColumn: vscode.ViewColumn.Active, preserveFocus: false }, { enableScripts: true });
    return this.track(key, new TokenDiffPanel(panel, this.context.extensionUri, data, (m) => this.opts.log?.(m)));
  }

  private track(key: string, p: TokenDiffPanel): TokenDiffPanel {
    this.panels.set(key, p);
    p.onDidDispose(() => this.panels.delete(key));
    return p;
  }

  private async pickRun(): Promise<string | undefined> {
    const runs = (this.opts.listRuns?.() ?? []).filter((r) => ckpts(r).length > 0);
    if (!runs.length) { void vscode.window.showInformationMessage('RL Lens: no run with checkpoints yet.'); return undefined; }
    const pick = await vscode.window.showQuickPick(runs.map((r) => ({ label: runName(r), description: `${ckpts(r).length} checkpoints`, detail: r })), { placeHolder: 'Compare tokens: choose a run' });
    return pick?.detail;
  }

  private async pickCheckpoint(runDir: string, placeHolder: string): Promise<string | undefined> {
    const list = ckpts(runDir);
    if (!list.length) { void vscode.window.showInformationMessage(`RL Lens: no checkpoint in ${runDir}.`); return undefined; }
    const pick = await vscode.window.showQuickPick(list.slice().reverse().map((c) => ({ label: c.name, description: `step ${c.meta?.step}${c.meta?.tag ? ` · ${c.meta.tag}` : ''}`, detail: c.dir })), { placeHolder });
    return pick?.detail;
  }

  dispose(): void {
    for (const c of this.running) c.kill('SIGKILL');
    this.running.clear();
    for (const p of [...this.panels.values()]) p.dispose();
    this.panels.clear();
  }
}

/** `RUN_DIR:STEP` or a file → the CompletionSource the CLI resolves it to (for the cache key). */
export function sourceOf(arg: string): CompletionSource {
  const m = /^(.*):(\d+)$/.exec(arg);
  if (m && fs.existsSync(m[1]) && fs.statSync(m[1]).isDirectory()) return { kind: 'rollout', path: m[1], step: Number(m[2]) };
  if (fs.existsSync(arg) && fs.statSync(arg).isDirectory()) {
    const steps = listRolloutSteps(arg);
    return { kind: 'rollout', path: arg, step: steps[steps.length - 1] };
  }
  return { kind: 'jsonl', path: arg };
}

/** Registers the token comparison commands, CodeLens and view; returns one Disposable for all. */
export function registerTokenDiff(context: vscode.ExtensionContext, opts: TokenDiffOptions = {}): vscode.Disposable & { tokens: TokenDiffCommands } {
  const t = new TokenDiffCommands(context, opts);
  const regs = t.register();
  const all = vscode.Disposable.from(t, ...regs) as vscode.Disposable & { tokens: TokenDiffCommands };
  all.tokens = t;
  return all;
}
