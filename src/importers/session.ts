/**
 * What every importer produces on each poll (one-shot import = one final poll; live follow = repeated polls),
 * and the generic machinery for JSONL rollout sources (RLLoggingBoard files, verl generation dumps):
 * lines are indexed by step with their byte ranges, so a step that receives more lines later (another
 * data-parallel rank, a file still being written) is rebuilt from the source bytes without keeping samples in memory.
 */
import { type EvalRecord, type InputProblem, type MetricsRecord, type RolloutSampleInput, type RolloutStepHeaderInput } from '../shared/runFormat';
import type { RolloutStepInput } from '../shared/rolloutStep';
import * as fs from 'fs';
import { Problems, TailWatch, forEachLine, isObject, parsePyJson } from './common';

/**
 * Fingerprint of what was consumed so far: the first 128 bytes and the 128 bytes before `offset` (latin1: one char
 * per byte). Unchanged for appends; changed when the file was rewritten in place. `size` < offset: truncated.
 */
function consumedFingerprint(file: string, offset: number): { fp: string; size: number } {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const a = Buffer.alloc(Math.min(128, offset, size));
      fs.readSync(fd, a, 0, a.length, 0);
      const from = Math.max(0, Math.min(offset, size) - 128);
      const b = Buffer.alloc(Math.min(offset, size) - from);
      fs.readSync(fd, b, 0, b.length, from);
      return { fp: a.toString('latin1') + '|' + b.toString('latin1'), size };
    } finally { fs.closeSync(fd); }
  } catch { return { fp: '', size: 0 }; }
}

function readAt(fd: number, offset: number, length: number): string {
  const b = Buffer.alloc(length);
  const n = fs.readSync(fd, b, 0, length, offset);
  return b.toString('utf8', 0, n);
}

/** One converted step: the shape every producer hands the writer (src/shared/rolloutStep.ts), with its step number. */
export interface StepOut extends RolloutStepInput {
  step: number;
}

export interface PollResult {
  /** rollout steps created or changed since the previous poll (complete contents of each) */
  steps: StepOut[];
  /** metrics records to append */
  metrics: MetricsRecord[];
  /** eval records to append */
  evals: EvalRecord[];
}

export interface Session {
  readonly format: 'rllb' | 'verl' | 'trl';
  /** `final`: no more data will come (a trailing unterminated line is then parsed / reported as torn) */
  poll(final: boolean): Promise<PollResult>;
  /** problems tied to lines and files (accumulating) */
  readonly problems: Problems;
  /** problems found while converting a step (replaced when the step is rebuilt) */
  readonly stepProblems: Map<number, InputProblem[]>;
  /** what the importer did (grouping by prompt, derived metrics, guesses), for manifest.source.notes */
  readonly notes: Set<string>;
  /** live follow only: unterminated tails that stopped changing (recomputed each poll) */
  readonly tails?: TailWatch;
  /** source files only partly read (cut short, unreadable): file → what was kept and what was lost (recomputed) */
  readonly partial?: Map<string, string>;
  /** algorithm name for the manifest (guessed from the data) */
  algorithm(): string;
  counts(): Record<string, number>;
}

export interface LineRef { file: string; offset: number; length: number; line: number }

export interface ConvertedSample { sample: RolloutSampleInput; arrays: Record<string, ArrayLike<number>> }

/** Generic line → step indexing for JSONL rollout sources. */
export class JsonlStepIndex {
  readonly fileState = new Map<string, { offset: number; line: number; fp?: string }>();
  readonly byStep = new Map<number, LineRef[]>();
  lines = 0;
  goodLines = 0;

  constructor(private readonly problems: Problems, private readonly tails?: TailWatch) {}

  /**
   * Read new complete lines of `file`; `stepOf` returns the step of a parsed record or a reason string.
   * Returns the steps that received lines.
   */
  scan(file: string, final: boolean, stepOf: (rec: Record<string, unknown>) => number | string): Set<number> {
    const touched = new Set<number>();
    let st = this.fileState.get(file) ?? { offset: 0, line: 1 };
    const now = st.offset > 0 ? consumedFingerprint(file, st.offset) : undefined;
    if (now && (now.size < st.offset || (st.fp !== undefined && now.fp !== st.fp))) {
      // rewritten in place (e.g. verl re-dumping a step after a resume) or truncated: forget what came from it
      for (const [step, refs] of this.byStep) {
        const keep = refs.filter((r) => r.file !== file);
        if (keep.length !== refs.length) { touched.add(step); if (keep.length) this.byStep.set(step, keep); else this.byStep.set(step, []); }
      }
      st = { offset: 0, line: 1 };
    }
    const r = forEachLine(file, { offset: st.offset, line: st.line, final }, (l) => {
      if (l.text.trim() === '') return;
      this.lines++;
      const p = parsePyJson(l.text);
      if (!p.ok) {
        this.problems.add(l.terminated
          ? { file, line: l.line, message: `not valid JSON (${p.error}); line skipped` }
          : { file, line: l.line, severity: 'warning', message: 'torn last line (the writer was interrupted or is still writing); skipped' });
        return;
      }
      if (!isObject(p.value)) { this.problems.add({ file, line: l.line, message: `expected a JSON object, got ${Array.isArray(p.value) ? 'an array' : typeof p.value}; line skipped` }); return; }
      const s = stepOf(p.value);
      if (typeof s === 'string') { this.problems.add({ file, line: l.line, field: 'step', message: `${s}; line skipped` }); return; }
      this.goodLines++;
      let refs = this.byStep.get(s);
      if (!refs) { refs = []; this.byStep.set(s, refs); }
      refs.push({ file, offset: l.offset, length: l.length, line: l.line });
      touched.add(s);
    });
    this.fileState.set(file, { offset: r.nextOffset, line: r.nextLine, fp: r.nextOffset > 0 ? consumedFingerprint(file, r.nextOffset).fp : undefined });
    if (!final) this.tails?.note(file, r.nextOffset, r.nextLine);
    return touched;
  }

  /** Re-read and parse the lines of one step (in file order, then line order). */
  records(step: number, fileOrder: string[]): { ref: LineRef; rec: Record<string, unknown> }[] {
    const refs = [...(this.byStep.get(step) ?? [])];
    const rank = new Map(fileOrder.map((f, i) => [f, i]));
    refs.sort((a, b) => (rank.get(a.file) ?? 0) - (rank.get(b.file) ?? 0) || a.offset - b.offset);
    const out: { ref: LineRef; rec: Record<string, unknown> }[] = [];
    const fds = new Map<string, number>();
    try {
      for (const ref of refs) {
        let fd = fds.get(ref.file);
        if (fd === undefined) {
          try { fd = fs.openSync(ref.file, 'r'); } catch { continue; }
          fds.set(ref.file, fd);
        }
        const p = parsePyJson(readAt(fd, ref.offset, ref.length));
        if (p.ok && isObject(p.value)) out.push({ ref, rec: p.value });
      }
    } finally {
      for (const fd of fds.values()) fs.closeSync(fd);
    }
    return out;
  }
}

/** Parse a step value (number or integer string, as TRL writes `str(global_step)`). */
export function parseStep(v: unknown): number | string {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'bigint' && v >= 0n) return Number(v);
  if (typeof v === 'string' && /^\s*\d+\s*$/.test(v)) return Number(v);
  if (v === undefined) return 'missing "step"';
  return `"step" must be a non-negative integer, got ${JSON.stringify(v)}`;
}

