/**
 * Importers: runs of other trainers (OpenRLHF / RLLoggingBoard JSONL, verl dumps + file-logger metrics,
 * TRL completions parquet + trainer_state.json) converted into the RL Lens run format (src/shared/runFormat.ts),
 * once (`importRun`) or live while the source is still being written (`followForeignRun`).
 *
 * Used by the CLI (`rl-lens import`) and by the extension's "RL Lens: Open Run…" (which calls detectFormat, then
 * importRun or followForeignRun into a folder of its choice). Node only (fs), never imports `vscode`.
 * Bad input never throws: problems are returned and stored in manifest.source.problems / problemCount.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { FILES, RUN_FORMAT, type InputProblem, type RunManifest } from '../shared/runFormat';
import { RunWriter } from '../runio/writer';
import { formatProblem, listFiles, problemSummary } from './common';
import { RllbSession } from './rllb';
import type { Session } from './session';
import { TrlSession, trlLayout } from './trl';
import { VerlSession, isVerlDumpRecord, isVerlMetricsRecord, sniffJsonl } from './verl';
import { CONSOLE_EXT, sniffVerlConsole } from './verlConsole';
import { looksLikeTrainerState } from './trainerState';

export { formatProblem, problemSummary } from './common';
export { readParquetRows } from './trl';
export type ImportFormat = 'rllb' | 'verl' | 'trl';
export type DetectedFormat = ImportFormat | 'rl-lens' | undefined;

export interface Detection { format: DetectedFormat; reason: string }

function isRllbRecord(r: Record<string, unknown>): boolean {
  return 'response' in r && 'prompt' in r && ('response_tokens' in r || 'logprobs' in r || 'token_rewards' in r || 'reward' in r);
}

const RLLB_SIGNS = ['prompt', 'response', 'response_tokens', 'logprobs', 'ref_logprobs', 'values', 'token_rewards', 'reward'];

/** The RLLoggingBoard fields the matching lines actually have (for a detection reason that claims nothing else). */
function rllbFields(recs: Record<string, unknown>[]): string {
  const have = RLLB_SIGNS.filter((k) => recs.some((r) => isRllbRecord(r) && k in r));
  const missing = ['response_tokens', 'logprobs'].filter((k) => !have.includes(k));
  return `lines have ${have.join('/')}${missing.length ? ` (no ${missing.join(', no ')})` : ''}`;
}

/** Which kind of run lives at `p` (file or folder), and why we think so. */
export function detectFormat(p: string): Detection {
  let st: fs.Stats;
  try { st = fs.statSync(p); } catch { return { format: undefined, reason: `${p} does not exist` }; }
  const manifest = st.isDirectory() ? path.join(p, FILES.manifest) : p.endsWith(FILES.manifest) ? p : undefined;
  if (manifest && fs.existsSync(manifest)) {
    try {
      const m = JSON.parse(fs.readFileSync(manifest, 'utf8')) as RunManifest;
      if (m.format === RUN_FORMAT) return { format: 'rl-lens', reason: `${manifest} is an RL Lens run manifest` };
    } catch { /* fall through */ }
  }
  if (st.isFile()) {
    const base = path.basename(p);
    if (base.endsWith('.parquet')) return { format: 'trl', reason: `${base} is a parquet file (TRL log_completions writes completions/completions_<step>.parquet)` };
    if (base === 'trainer_state.json') return { format: 'trl', reason: 'trainer_state.json is the transformers/TRL trainer state (log_history metrics)' };
    if (base.endsWith('.json') && looksLikeTrainerState(p)) return { format: 'trl', reason: `${base} holds a transformers/TRL TrainerState (a JSON object with a "log_history" list), detected by content` };
    if (base.endsWith('.jsonl')) {
      const recs = sniffJsonl(p);
      if (recs.some(isRllbRecord)) return { format: 'rllb', reason: `${base}: ${rllbFields(recs)} (RLLoggingBoard JSONL)` };
      if (recs.some(isVerlDumpRecord)) return { format: 'verl', reason: `${base}: lines have input/output/score (verl _dump_generations)` };
      if (recs.some(isVerlMetricsRecord)) return { format: 'verl', reason: `${base}: lines are {"step", "data"} (verl file logger)` };
      if (!recs.length) { const c = consoleReason(p); if (c) return { format: 'verl', reason: c }; }
      return { format: undefined, reason: `${base}: no line matches a known format (RLLoggingBoard: prompt/response/response_tokens; verl: input/output/score or {"step","data"})` };
    }
    const c = consoleReason(p, true);
    if (c) return { format: 'verl', reason: c };
    return { format: undefined, reason: `${base}: not a .jsonl, .parquet or TrainerState (.json with "log_history") file, and no verl console-logger line ("step:N - name:value - ...") in it` };
  }
  const trl = trlLayout(p);
  const completions = trl.parquetFiles.filter((f) => /completions_\d+\.parquet$/.test(f));
  if (completions.length || trl.trainerState) {
    const byContent = trl.trainerState && path.basename(trl.trainerState) !== 'trainer_state.json' ? ' (a TrainerState, detected by content)' : '';
    return { format: 'trl', reason: `TRL output folder: ${completions.length} completions parquet file(s)${trl.trainerState ? `, ${path.relative(p, trl.trainerState)}${byContent}` : ''}` };
  }
  const jsonl = listFiles(p, (n) => n.endsWith('.jsonl'), 3, 500);
  const rllb: string[] = []; const verl: string[] = [];
  const rllbRecs: Record<string, unknown>[] = [];
  for (const f of jsonl) {
    const recs = sniffJsonl(f);
    if (recs.some(isRllbRecord)) { rllb.push(f); rllbRecs.push(...recs); }
    else if (recs.some(isVerlDumpRecord) || recs.some(isVerlMetricsRecord)) verl.push(f);
  }
  const names = (fs_: string[]): string => fs_.slice(0, 3).map((f) => path.relative(p, f)).join(', ') + (fs_.length > 3 ? ', ...' : '');
  if (rllb.length) return { format: 'rllb', reason: `${rllb.length} RLLoggingBoard JSONL file(s) (${names(rllb)}): ${rllbFields(rllbRecs)}` };
  if (verl.length) return { format: 'verl', reason: `${verl.length} verl file(s) (${names(verl)}): generation dumps (input/output/score) and/or file-logger metrics ({"step","data"})` };
  // verl console logs (verl's default logger): text files with "step:N - name:value - ..." lines
  let markerOnly: string | undefined;
  for (const f of listFiles(p, (n) => CONSOLE_EXT.test(n), 3, 200)) {
    const sn = sniffVerlConsole(f), rel = path.relative(p, f);
    const metricReason = consoleReasonOf(sn, rel);
    if (metricReason) return { format: 'verl', reason: metricReason };
    markerOnly ??= consoleReasonOf(sn, rel, true);
  }
  if (markerOnly) return { format: 'verl', reason: markerOnly };
  return { format: undefined, reason: `no RL Lens manifest, TRL completions or TrainerState (trainer_state.json, or any .json with "log_history"), RLLoggingBoard or verl JSONL, or verl console log (.log/.txt/.out/.err with "step:N - name:value - ..." lines) found under ${p}` };
}

/** Why a single text file is a verl console log (undefined when it is not). `markers`: accept verl start-up output before the first metric line. */
function consoleReason(file: string, markers = false): string | undefined {
  return consoleReasonOf(sniffVerlConsole(file), path.basename(file), markers);
}

/** The detection reason for a sniffed console log named `name` (undefined when it is not one). */
function consoleReasonOf(sn: ReturnType<typeof sniffVerlConsole>, name: string, markers = false): string | undefined {
  if (sn.metricLines) return `${name}: verl console log (console-logger lines "step:N - name:value - ...", first at line ${sn.firstLine})`;
  if (markers && sn.verlMarker) return `${name}: a verl console log with no metric line yet (verl start-up output such as "(TaskRunner pid=...)")`;
  return undefined;
}

export interface ImportOptions {
  /** source format; detected when omitted */
  from?: ImportFormat;
  /** output run folder (must not already hold a run, unless `replace`) */
  out: string;
  /** run name for the manifest */
  name?: string;
  /** if `out` holds a run imported from this same source, delete it first (never deletes anything else) */
  replace?: boolean;
}

/** A stable folder for the converted copy of `src` under `root` (e.g. the extension's storage): root/<name>-<hash>. */
export function importTargetDir(src: string, root: string): string {
  const abs = path.resolve(src);
  const hash = crypto.createHash('sha1').update(abs).digest('hex').slice(0, 10);
  const name = path.basename(abs).replace(/[^\w.-]+/g, '_').slice(0, 60) || 'run';
  return path.join(root, `${name}-${hash}`);
}

/** Delete `out` only if it is a run that was imported from `src` (used by `replace`). */
function removePreviousImport(src: string, out: string): void {
  const mf = path.join(out, FILES.manifest);
  if (!fs.existsSync(mf)) { if (fs.existsSync(out) && fs.readdirSync(out).length) throw new Error(`${out} exists and is not an RL Lens run: not replacing it`); return; }
  let m: RunManifest;
  try { m = JSON.parse(fs.readFileSync(mf, 'utf8')) as RunManifest; } catch { throw new Error(`${mf} is unreadable: not replacing it`); }
  if (m.source?.path !== path.resolve(src)) throw new Error(`${out} holds a run that was not imported from ${src}: not replacing it`);
  fs.rmSync(out, { recursive: true, force: true });
}

export interface ImportResult {
  runDir: string;
  format: ImportFormat;
  detected: string;
  /** every problem found (file, line, field, message) */
  problems: InputProblem[];
  problemCount: number;
  counts: Record<string, number>;
  notes: string[];
  /** source files only partly read (cut short, unreadable): what was kept and what was lost; empty when none */
  partial: string[];
  /** nothing at all was imported (no rollouts, metrics or evals): the run is marked failed, never "completed" */
  empty: boolean;
}

function makeSession(format: ImportFormat, src: string, opts: { staleTailMs?: number } = {}): Session {
  switch (format) {
    case 'rllb': return new RllbSession(src, opts);
    case 'verl': return new VerlSession(src, opts);
    case 'trl': return new TrlSession(src);
  }
}

const MANIFEST_PROBLEM_CAP = 1000;

/** Drives a session and writes what it produces into an RL Lens run folder. */
class Converter {
  readonly writer: RunWriter;
  private lastStep = -1;
  private rolloutsWritten = 0;
  private metricsWritten = 0;
  private evalsWritten = 0;

  constructor(readonly session: Session, readonly src: string, readonly out: string, readonly detected: string, name?: string) {
    this.writer = RunWriter.create(out, {
      id: path.basename(path.resolve(out)),
      name: name ?? path.basename(path.resolve(src)),
      algorithm: 'unknown',
      config: { importedFrom: path.resolve(src), sourceFormat: session.format },
      backend: { name: 'imported' },
      source: { format: session.format, path: path.resolve(src), detected, notes: [], problems: [], problemCount: 0 },
    });
    this.writer.event({ type: 'start', time: new Date().toISOString(), runDir: out, runId: this.writer.current.id, algorithm: 'unknown', backend: { name: 'imported' } });
  }

  /** after a final poll, tails have been read as final lines (reported as torn if bad) */
  private finalised = false;
  private manifestSig = '';

  async step(final: boolean): Promise<boolean> {
    const r = await this.session.poll(final);
    if (final) this.finalised = true;
    for (const s of r.steps) {
      this.writer.writeRolloutStep(s.header, s.samples, s.arrays);
      this.rolloutsWritten++;
      this.lastStep = Math.max(this.lastStep, s.step);
    }
    for (const m of r.metrics) { this.writer.metrics(m); this.metricsWritten++; this.lastStep = Math.max(this.lastStep, m.step); }
    for (const e of r.evals) { this.writer.evalRecord(e); this.evalsWritten++; }
    const changed = r.steps.length + r.metrics.length + r.evals.length > 0;
    // the manifest is rewritten (atomically, with fsync) only when something in it changes
    const sig = `${final}:${this.lastStep}:${this.problemCount()}:${this.session.notes.size}:${this.session.algorithm()}:${this.partial().join('|')}`;
    const sigChanged = sig !== this.manifestSig;
    if (changed || sigChanged) this.updateManifest(final ? 'completed' : 'running');
    this.manifestSig = sig;
    return changed || sigChanged; // onUpdate also fires when only the problems changed
  }

  partial(): string[] {
    return [...(this.session.partial?.values() ?? [])];
  }

  empty(): boolean { return this.rolloutsWritten + this.metricsWritten + this.evalsWritten === 0; }

  problems(): InputProblem[] {
    const out = [...this.session.problems.list];
    for (const ps of this.session.stepProblems.values()) out.push(...ps);
    if (!this.finalised) out.push(...(this.session.tails?.problems() ?? []));
    return out;
  }

  problemCount(): number {
    let n = this.session.problems.count;
    for (const ps of this.session.stepProblems.values()) n += ps.length;
    if (!this.finalised) n += this.session.tails?.problems().length ?? 0;
    return n;
  }

  updateManifest(status: RunManifest['status']): void {
    const problems = this.problems();
    const extra: Partial<RunManifest> = {};
    if (status === 'failed') extra.error = { message: this.emptyMessage() };
    const totalSteps = (this.session as { totalSteps?: number }).totalSteps;
    if (totalSteps !== undefined) extra.totalSteps = totalSteps;
    this.writer.updateManifest({
      status,
      algorithm: this.session.algorithm(),
      ...(this.lastStep >= 0 ? { step: this.lastStep } : {}),
      ...(status === 'completed' ? { endedAt: new Date().toISOString() } : {}),
      ...extra,
      source: {
        format: this.session.format, path: path.resolve(this.src), detected: this.detected,
        notes: [...this.partial().map((p) => `PARTIAL: ${p}`), ...this.session.notes],
        problems: problems.slice(0, MANIFEST_PROBLEM_CAP),
        problemCount: this.problemCount(),
      },
    });
  }

  result(): ImportResult {
    return {
      runDir: this.out, format: this.session.format, detected: this.detected,
      problems: this.problems(), problemCount: this.problemCount(),
      counts: { ...this.session.counts(), problems: this.problemCount(), rolloutStepsWritten: this.rolloutsWritten, metricsRecordsWritten: this.metricsWritten, evalRecordsWritten: this.evalsWritten },
      notes: [...this.session.notes],
      partial: this.partial(),
      empty: this.empty(),
    };
  }

  emptyMessage(): string {
    const ps = this.problems();
    const why = ps.filter((p) => p.severity !== 'warning').slice(0, 3).map((p) => formatProblem(p)).join('; ');
    return `nothing was imported from ${path.resolve(this.src)} (no rollouts, metrics or eval records)${why ? `: ${why}` : ''}`;
  }

  end(status: 'completed' | 'stopped'): void {
    const n = this.problemCount();
    const time = (): string => new Date().toISOString();
    for (const p of this.partial()) this.writer.event({ type: 'warning', time: time(), code: 'import-partial', message: `partial import: ${p}` });
    if (n) this.writer.event({ type: 'warning', time: time(), code: 'import-problems', message: `${problemSummary(this.problems(), n)} (see manifest.source.problems)` });
    const failed = status === 'completed' && this.empty();
    if (failed) this.writer.event({ type: 'warning', time: time(), code: 'import-empty', message: this.emptyMessage() });
    this.writer.event({ type: 'end', time: time(), status: failed ? 'failed' : status, ...(failed ? { reason: 'nothing imported' } : {}), ...(this.lastStep >= 0 ? { step: this.lastStep } : {}) });
    this.updateManifest(failed ? 'failed' : status === 'completed' ? 'completed' : 'stopped');
  }
}

function resolveFormat(src: string, from?: ImportFormat): { format: ImportFormat; detected: string } {
  if (from) return { format: from, detected: `--from ${from} (given)` };
  const d = detectFormat(src);
  if (d.format === 'rl-lens') throw new Error(`${src} is already an RL Lens run: open it directly (no import needed)`);
  if (!d.format) throw new Error(`cannot tell the format of ${src}: ${d.reason}. Pass --from rllb|verl|trl`);
  return { format: d.format, detected: d.reason };
}

/**
 * Convert a foreign run into an RL Lens run folder `opts.out` (created; must not hold a run yet).
 * Throws only for unusable arguments (source missing, format unknown, out already a run); bad content is reported.
 */
export async function importRun(src: string, opts: ImportOptions): Promise<ImportResult> {
  if (!fs.existsSync(src)) throw new Error(`${src} does not exist`);
  const { format, detected } = resolveFormat(src, opts.from);
  if (opts.replace) removePreviousImport(src, opts.out);
  const conv = new Converter(makeSession(format, src), src, opts.out, detected, opts.name);
  await conv.step(true);
  conv.end('completed');
  return conv.result();
}

/**
 * Read and check a foreign run without writing anything (dry run): same problems, counts and notes as importRun.
 * Handy for a preview before converting, and for tests.
 */
export async function inspectForeignRun(src: string, opts: { from?: ImportFormat } = {}): Promise<Omit<ImportResult, 'runDir'>> {
  if (!fs.existsSync(src)) throw new Error(`${src} does not exist`);
  const { format, detected } = resolveFormat(src, opts.from);
  const session = makeSession(format, src);
  const r = await session.poll(true);
  const problems = [...session.problems.list];
  let problemCount = session.problems.count;
  for (const ps of session.stepProblems.values()) { problems.push(...ps); problemCount += ps.length; }
  const empty = r.steps.length + r.metrics.length + r.evals.length === 0;
  return { format, detected, problems, problemCount, counts: { ...session.counts(), problems: problemCount }, notes: [...session.notes], partial: [...(session.partial?.values() ?? [])], empty };
}

export interface ForeignFollower {
  /** resolves after the first import pass */
  readonly ready: Promise<ImportResult>;
  /** current counts and problems */
  snapshot(): ImportResult;
  /** read the remaining data as final (torn last lines are reported), mark the run completed, stop following */
  finish(): Promise<ImportResult>;
  /** stop following (the run stays as converted so far, marked stopped) */
  dispose(): void;
}

/**
 * Import `src` into `out`, then keep following it: new lines / files are converted incrementally (JSONL sources are
 * read from the byte offset where the previous pass stopped; a step that receives more lines is rewritten atomically).
 * `onUpdate` is called after each pass that changed the run.
 */
export function followForeignRun(src: string, out: string, onUpdate: (r: ImportResult) => void, opts: {
  from?: ImportFormat; intervalMs?: number; name?: string; replace?: boolean;
  /** report an unterminated last line that has not changed for this long (default 30 s) */
  staleTailMs?: number;
} = {}): ForeignFollower {
  const { format, detected } = resolveFormat(src, opts.from);
  if (opts.replace) removePreviousImport(src, out);
  const conv = new Converter(makeSession(format, src, { staleTailMs: opts.staleTailMs }), src, out, detected, opts.name);
  let timer: NodeJS.Timeout | undefined;
  let busy: Promise<unknown> = Promise.resolve();
  let disposed = false;
  const pass = (final: boolean): Promise<void> => {
    busy = busy.then(async () => {
      if (disposed && !final) return;
      try {
        const changed = await conv.step(final);
        if (changed) onUpdate(conv.result());
      } catch (e) {
        conv.session.problems.add({ file: src, message: `import pass failed: ${(e as Error).message}` });
      }
    });
    return busy as Promise<void>;
  };
  const ready = pass(false).then(() => {
    if (!disposed) timer = setInterval(() => { void pass(false); }, opts.intervalMs ?? 1000);
    return conv.result();
  });
  return {
    ready,
    snapshot: () => conv.result(),
    async finish() {
      await ready;
      if (timer) clearInterval(timer);
      timer = undefined;
      await pass(true);
      disposed = true;
      conv.end('completed');
      return conv.result();
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      void busy.then(() => conv.end('stopped'));
    },
  };
}
