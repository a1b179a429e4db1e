/**
 * Shared machinery of the importers (TRL / verl / OpenRLHF-RLLoggingBoard → RL Lens run format):
 * located problems, chunked line reading by byte offsets (live follow), Python-flavoured JSON
 * (Python's json.dumps writes NaN / Infinity / -Infinity), grouping by prompt, derived metrics.
 *
 * Never throws on bad input: every bad line / field becomes an InputProblem with file:line and a reason.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { InputProblem, RolloutGroup, RolloutSampleInput } from '../shared/runFormat';

export type ForeignFormat = 'rllb' | 'verl' | 'trl';

/** Collects located problems; keeps at most `cap` in memory but counts all. */
export class Problems {
  readonly list: InputProblem[] = [];
  count = 0;
  constructor(private readonly cap = 100_000) {}
  add(p: InputProblem): void {
    this.count++;
    if (this.list.length < this.cap) this.list.push({ severity: 'error', ...p });
  }
  addAll(ps: InputProblem[]): void { for (const p of ps) this.add(p); }
}

export function formatProblem(p: InputProblem): string {
  return `${p.file}${p.line !== undefined ? `:${p.line}` : ''}: ${p.severity === 'warning' ? 'warning: ' : ''}${p.field ? `${p.field}: ` : ''}${p.message}`;
}

/** Does a problem mean a whole source line / row / entry / file was left out (not only a field, kept elsewhere)? */
export function isSkip(p: InputProblem): boolean {
  return /\b(line|row|entry|file) skipped\b|^torn last line|; skipped$/.test(p.message);
}

/**
 * A truthful one-line summary of the problems: how many errors and warnings, and how many source lines / rows /
 * entries / files were actually left out ("nothing was skipped" when none were).
 */
export function problemSummary(list: InputProblem[], count: number): string {
  if (!count) return 'no problems found';
  let errors = 0; let warnings = 0; let skipped = 0;
  for (const p of list) { if (p.severity === 'warning') warnings++; else errors++; if (isSkip(p)) skipped++; }
  const of = list.length < count ? ` (counted over the first ${list.length} kept)` : '';
  return `${count} problem(s): ${errors} error(s), ${warnings} warning(s)${of}; ${skipped ? `${skipped} skipped (whole lines, rows, log entries or files), the rest kept` : 'nothing was skipped (every line was kept)'}`;
}

// ---------------------------------------------------------------------------------------------
// Line reading by byte offsets
// ---------------------------------------------------------------------------------------------

export interface RawLine {
  /** 1-based line number */
  line: number;
  /** byte offset of the first byte of the line */
  offset: number;
  /** byte length without the newline */
  length: number;
  text: string;
  /** false for a last line without '\n' (only passed when `final`) */
  terminated: boolean;
}

/**
 * Read lines from `offset` (bytes) in chunks (files may be larger than a JS string can hold).
 * Only '\n'-terminated lines are consumed unless `final`, in which case a trailing unterminated line is passed too.
 * Returns where to resume.
 */
export function forEachLine(file: string, opts: { offset?: number; line?: number; final: boolean }, cb: (l: RawLine) => void): { nextOffset: number; nextLine: number } {
  let offset = opts.offset ?? 0;
  let lineNo = opts.line ?? 1;
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch { return { nextOffset: offset, nextLine: lineNo }; }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < offset) { offset = 0; lineNo = 1; } // truncated / replaced: start again
    const CHUNK = 8 * 1024 * 1024;
    let carry: Buffer = Buffer.alloc(0);
    let carryStart = offset;
    let pos = offset;
    while (pos < size) {
      const len = Math.min(CHUNK, size - pos);
      const chunk = Buffer.alloc(len);
      const n = fs.readSync(fd, chunk, 0, len, pos);
      if (n <= 0) break;
      pos += n;
      const buf = carry.length ? Buffer.concat([carry, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let start = 0;
      for (;;) {
        const nl = buf.indexOf(0x0a, start);
        if (nl < 0) break;
        let end = nl;
        if (end > start && buf[end - 1] === 0x0d) end--;
        cb({ line: lineNo, offset: carryStart + start, length: end - start, text: buf.toString('utf8', start, end), terminated: true });
        lineNo++;
        start = nl + 1;
      }
      carry = Buffer.from(buf.subarray(start));
      carryStart += start;
    }
    if (carry.length > 0 && opts.final) {
      cb({ line: lineNo, offset: carryStart, length: carry.length, text: carry.toString('utf8'), terminated: false });
      lineNo++;
      return { nextOffset: carryStart + carry.length, nextLine: lineNo };
    }
    return { nextOffset: carryStart, nextLine: lineNo };
  } finally {
    fs.closeSync(fd);
  }
}

/** Read `length` bytes at `offset` as UTF-8. */
export function readRange(file: string, offset: number, length: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(length);
    const n = fs.readSync(fd, b, 0, length, offset);
    return b.toString('utf8', 0, n);
  } finally { fs.closeSync(fd); }
}

// ---------------------------------------------------------------------------------------------
// Python-flavoured JSON
// ---------------------------------------------------------------------------------------------

const SENTINEL = '@@rl-lens-nonfinite@@:';

/**
 * JSON.parse that also accepts the bare NaN, Infinity and -Infinity tokens Python's json.dumps writes
 * (allow_nan=True is its default). They come back as the JS numbers NaN / ±Infinity so field checks can report them.
 */
export function parsePyJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try { return { ok: true, value: JSON.parse(text) }; } catch (e) {
    if (!/NaN|Infinity/.test(text)) return { ok: false, error: (e as Error).message };
    const replaced = replaceNonFiniteTokens(text);
    try {
      const value = JSON.parse(replaced, (_k, v) => {
        if (typeof v === 'string' && v.startsWith(SENTINEL)) {
          const t = v.slice(SENTINEL.length);
          return t === 'NaN' ? NaN : t === '-Infinity' ? -Infinity : Infinity;
        }
        return v;
      });
      return { ok: true, value };
    } catch {
      return { ok: false, error: (e as Error).message };
    }
  }
}

/** Replace NaN / Infinity / -Infinity tokens that are outside string literals by sentinel strings. */
function replaceNonFiniteTokens(text: string): string {
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '"') {
      // copy the string literal verbatim
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === 'N' && text.startsWith('NaN', i)) { out += `"${SENTINEL}NaN"`; i += 3; continue; }
    if (c === 'I' && text.startsWith('Infinity', i)) { out += `"${SENTINEL}Infinity"`; i += 8; continue; }
    if (c === '-' && text.startsWith('-Infinity', i)) { out += `"${SENTINEL}-Infinity"`; i += 9; continue; }
    out += c;
    i++;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Field checks
// ---------------------------------------------------------------------------------------------

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A numeric array: every element a number (NaN / ±Infinity allowed here; reported separately). */
export function asNumberArray(v: unknown): number[] | undefined {
  if (!Array.isArray(v)) return undefined;
  for (const x of v) if (typeof x !== 'number') return undefined;
  return v as number[];
}

export function countNonFinite(a: ArrayLike<number>): number {
  let k = 0;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) k++;
  return k;
}

/** Text of a prompt / completion that may be a chat (list of {role, content}) or any other value. */
export function textOf(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (Array.isArray(v) && v.every((m) => isObject(m) && 'content' in m)) {
    return v.map((m) => {
      const mm = m as Record<string, unknown>;
      const content = typeof mm.content === 'string' ? mm.content : JSON.stringify(mm.content);
      return mm.role !== undefined ? `<|${String(mm.role)}|>${content}` : content;
    }).join('\n');
  }
  try { return JSON.stringify(v); } catch { return String(v); }
}

/** JSON-safe copy of an unknown value (bigint → number/string, typed arrays → arrays, non-finite → null). */
export function jsonSafe(v: unknown, depth = 0): unknown {
  if (depth > 20) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>, (x) => jsonSafe(x, depth + 1));
  if (Array.isArray(v)) return v.map((x) => jsonSafe(x, depth + 1));
  if (typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) o[k] = jsonSafe(x, depth + 1);
    return o;
  }
  return String(v);
}

// ---------------------------------------------------------------------------------------------
// Groups and derived metrics
// ---------------------------------------------------------------------------------------------

/** Unbiased (n−1) std as torch.std, which GRPO (TRL, verl) uses for group normalisation; 0 for n < 2. */
export function meanStd(xs: number[]): { mean: number; std: number } {
  const v = xs.filter((x) => Number.isFinite(x));
  if (v.length === 0) return { mean: NaN, std: NaN };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  if (v.length < 2) return { mean, std: 0 };
  const ss = v.reduce((a, b) => a + (b - mean) * (b - mean), 0);
  return { mean, std: Math.sqrt(ss / (v.length - 1)) };
}

/**
 * Group samples of one step. Uses an explicit group key when the source has one (`keyOf` returns it);
 * otherwise groups by identical prompt text (GRPO-style trainers generate the G completions of a prompt together).
 * Sets `sample.group` and returns the groups in order of first appearance.
 */
export function groupSamples(samples: RolloutSampleInput[], keyOf: (s: RolloutSampleInput, i: number) => string | undefined, answerOf?: (s: RolloutSampleInput) => string | undefined): { groups: RolloutGroup[]; byPrompt: boolean } {
  const order: string[] = [];
  const members = new Map<string, number[]>();
  let byPrompt = false;
  samples.forEach((s, i) => {
    let k = keyOf(s, i);
    if (k === undefined) { k = `prompt:${s.prompt}`; byPrompt = true; } else k = `key:${k}`;
    let m = members.get(k);
    if (!m) { m = []; members.set(k, m); order.push(k); }
    m.push(i);
  });
  const groups: RolloutGroup[] = order.map((k, gi) => {
    const idx = members.get(k)!;
    const rewards = idx.map((i) => samples[i].reward);
    const { mean, std } = meanStd(rewards);
    const id = `g${gi}`;
    for (const i of idx) samples[i].group = id;
    const g: RolloutGroup = { id, prompt: samples[idx[0]].prompt, samples: idx, rewards, mean, std };
    if (k.startsWith('key:')) g.sourceGroupKey = k.slice(4);
    if (idx.length > 1 && rewards.every((r) => r === rewards[0])) g.allEqualRewards = true;
    const ans = answerOf?.(samples[idx[0]]);
    if (ans !== undefined) g.answer = ans;
    return g;
  });
  return { groups, byPrompt };
}

/** Per-step metrics computed from the samples when the source has no metrics file (named as ours). */
export function derivedStepMetrics(samples: RolloutSampleInput[], arrays: Record<string, ArrayLike<number>>[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  const rewards = samples.map((s) => s.reward).filter((x) => Number.isFinite(x));
  if (rewards.length) {
    const { mean, std } = meanStd(rewards);
    out['reward/mean'] = mean;
    out['reward/std'] = std;
    out['reward/max'] = Math.max(...rewards);
    out['reward/min'] = Math.min(...rewards);
  }
  const lens = samples.map((s) => s.length).filter((x) => x > 0);
  if (lens.length) {
    out['response_length/mean'] = lens.reduce((a, b) => a + b, 0) / lens.length;
    out['response_length/max'] = Math.max(...lens);
    out['response_length/min'] = Math.min(...lens);
  }
  const tokenMean = (name: string): number | undefined => {
    let s = 0; let n = 0;
    for (const a of arrays) {
      const x = a[name];
      if (!x) continue;
      for (let i = 0; i < x.length; i++) if (Number.isFinite(x[i])) { s += x[i]; n++; }
    }
    return n ? s / n : undefined;
  };
  for (const [arr, metric] of [['kl', 'kl'], ['value', 'values/mean'], ['token_reward', 'token_reward/mean'], ['entropy', 'entropy'], ['advantage', 'advantages/mean']] as const) {
    const m = tokenMean(arr);
    if (m !== undefined) out[metric] = m;
  }
  const adv = samples.map((s) => s.advantage).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (adv.length && out['advantages/mean'] === undefined) out['advantages/mean'] = adv.reduce((a, b) => a + b, 0) / adv.length;
  const refR = samples.map((s) => (s.extra as Record<string, unknown> | undefined)?.ref_reward).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  if (refR.length) out['ref_reward/mean'] = refR.reduce((a, b) => a + b, 0) / refR.length;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------

/** Files under `dir` (depth-limited, sorted, hidden entries skipped). */
export function listFiles(dir: string, pred: (name: string, full: string) => boolean, maxDepth = 3, limit = 100_000): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number): void => {
    let ents: fs.Dirent[];
    try { ents = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
    ents.sort((a, b) => naturalCompare(a.name, b.name));
    for (const e of ents) {
      if (out.length >= limit) return;
      if (e.name.startsWith('.')) continue;
      const full = path.join(d, e.name);
      if (e.isDirectory()) { if (depth < maxDepth) walk(full, depth + 1); } else if (e.isFile() && pred(e.name, full)) out.push(full);
    }
  };
  walk(dir, 0);
  return out;
}

/** "rank2" < "rank10", "9.jsonl" < "10.jsonl" */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, undefined, { numeric: true, sensitivity: 'base' });
}

export function fileStamp(file: string): string | undefined {
  try { const st = fs.statSync(file); return `${st.size}:${st.mtimeMs}`; } catch { return undefined; }
}

/** Paths (like `a.b[2]`) of non-finite numbers inside a value. */
export function nonFinitePaths(v: unknown, at: string, out: string[] = [], depth = 0): string[] {
  if (out.length >= 20 || depth > 20) return out;
  if (typeof v === 'number') { if (!Number.isFinite(v)) out.push(at); return out; }
  if (Array.isArray(v)) v.forEach((x, i) => nonFinitePaths(x, `${at}[${i}]`, out, depth + 1));
  else if (isObject(v)) for (const [k, x] of Object.entries(v)) nonFinitePaths(x, `${at}.${k}`, out, depth + 1);
  return out;
}

/** Keep an unknown field as is (JSON-safe); NaN / Infinity inside it are reported (they are stored as null). */
export function keepExtra(extra: Record<string, unknown>, key: string, v: unknown, report: (field: string, message: string) => void): void {
  const bad = nonFinitePaths(v, key);
  if (bad.length) report(key, `non-finite value(s) (NaN/Infinity) at ${bad.slice(0, 5).join(', ')}${bad.length > 5 ? ', ...' : ''}; kept in extra as null`);
  extra[key] = jsonSafe(v);
}

/**
 * While following a live source, an unterminated last line is normally a line still being written, so it is not
 * reported. If it stays unterminated and unchanged for `staleMs`, it is reported (as a warning) so that a torn tail of
 * a dead writer is never silently ignored. Recomputed on every poll.
 */
export class TailWatch {
  private readonly tails = new Map<string, { offset: number; line: number; size: number; since: number }>();
  constructor(private readonly staleMs = 30_000) {}
  note(file: string, nextOffset: number, nextLine: number): void {
    let size = 0;
    try { size = fs.statSync(file).size; } catch { /* gone */ }
    if (size <= nextOffset) { this.tails.delete(file); return; }
    const t = this.tails.get(file);
    if (!t || t.offset !== nextOffset || t.size !== size) this.tails.set(file, { offset: nextOffset, line: nextLine, size, since: Date.now() });
  }
  /** stop watching a file's tail (e.g. a console log ending in a progress bar, which never gets a newline) */
  forget(file: string): void { this.tails.delete(file); }
  problems(now = Date.now()): InputProblem[] {
    const out: InputProblem[] = [];
    for (const [file, t] of this.tails) {
      if (now - t.since >= this.staleMs) out.push({ file, line: t.line, severity: 'warning', message: `last line has no newline and has not changed for ${Math.round((now - t.since) / 1000)} s (torn by an interrupted writer?); not read yet` });
    }
    return out;
  }
}
