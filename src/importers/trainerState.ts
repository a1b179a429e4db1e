/**
 * transformers `TrainerState` files (what TRL's trainers leave as `trainer_state.json`): found by content, not only by
 * name, and read even when cut mid-file.
 *
 * Writer (huggingface/transformers, src/transformers/trainer_callback.py, TrainerState.save_to_json):
 *     json_string = json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True) + "\n"
 *     with open(json_path, "w", encoding="utf-8") as f:
 *         f.write(json_string)
 * so the file is one object with sorted keys (`best_*`, `epoch`, `eval_steps`, `global_step`, ..., `log_history`,
 * `logging_steps`, `max_steps`, ..., `train_batch_size`, `trial_*`), rewritten (not appended) at every checkpoint save
 * (`checkpoint-N/trainer_state.json`) and at the end (`<output_dir>/trainer_state.json`). The file is written in place
 * (no temp file + rename), so a crash or a copy in progress leaves it cut mid-file. People also rename it
 * (`stage4_trainer_state.json`), hence detection by content: a JSON object with a `log_history` list.
 */
import * as fs from 'fs';
import * as path from 'path';
import { isObject, listFiles, naturalCompare, parsePyJson } from './common';

const SNIFF_BYTES = 64 * 1024;

/** Does `file` (a .json) look like a TrainerState? Reads only its first 64 KB (works on a truncated file too). */
export function looksLikeTrainerState(file: string): boolean {
  if (!file.endsWith('.json')) return false;
  let head = '';
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const b = Buffer.alloc(SNIFF_BYTES);
      const n = fs.readSync(fd, b, 0, SNIFF_BYTES, 0);
      head = b.toString('utf8', 0, n);
    } finally { fs.closeSync(fd); }
  } catch { return false; }
  // a top-level object with a "log_history" list (sorted keys put it after global_step; the list may be long, so
  // only the key is required in the head, unless the head is the whole file)
  if (!/^\s*\{/.test(head)) return false;
  return /"log_history"\s*:\s*\[/.test(head);
}

/**
 * The TrainerState file(s) of a TRL output folder: `trainer_state.json` or any other `*.json` holding a TrainerState
 * in the folder itself (e.g. `stage4_trainer_state.json`); else the latest `checkpoint-N/` one.
 * `others` = further candidates in the folder itself that are not imported (reported).
 */
export function findTrainerStates(dir: string): { chosen?: string; others: string[] } {
  // by name (even when its content is broken: then it is reported), or by content
  const top = listFiles(dir, (n) => n.endsWith('.json'), 0).filter((f) => path.basename(f) === 'trainer_state.json' || looksLikeTrainerState(f)).sort(naturalCompare);
  if (top.length) {
    const exact = top.find((f) => path.basename(f) === 'trainer_state.json');
    // by name first, else the one written last (a later stage / a later save)
    const chosen = exact ?? [...top].sort((a, b) => mtime(b) - mtime(a) || naturalCompare(b, a))[0];
    return { chosen, others: top.filter((f) => f !== chosen) };
  }
  // during training only checkpoint-N/trainer_state.json exist: take the latest
  const cks = listFiles(dir, (n) => n.endsWith('.json'), 1)
    .filter((f) => /^checkpoint-\d+$/.test(path.basename(path.dirname(f))) && (path.basename(f) === 'trainer_state.json' || looksLikeTrainerState(f)))
    .sort(naturalCompare);
  return { chosen: cks.length ? cks[cks.length - 1] : undefined, others: [] };
}

function mtime(f: string): number { try { return fs.statSync(f).mtimeMs; } catch { return 0; } }

// ---------------------------------------------------------------------------------------------
// Reading a cut file
// ---------------------------------------------------------------------------------------------

/** End (exclusive) of the JSON value starting at `i` (after whitespace), or -1 if the text ends inside it. */
function scanValue(t: string, i: number): number {
  const n = t.length;
  const c = t[i];
  if (c === '"') {
    let j = i + 1;
    while (j < n && t[j] !== '"') j += t[j] === '\\' ? 2 : 1;
    return j < n ? j + 1 : -1;
  }
  if (c === '{' || c === '[') {
    let depth = 0;
    let j = i;
    while (j < n) {
      const d = t[j];
      if (d === '"') { const e = scanValue(t, j); if (e < 0) return -1; j = e; continue; }
      if (d === '{' || d === '[') depth++;
      else if (d === '}' || d === ']') { depth--; if (depth === 0) return j + 1; }
      j++;
    }
    return -1;
  }
  // number / true / false / null / NaN / Infinity: up to the next delimiter; the text must go on after it
  let j = i;
  while (j < n && !/[,}\]\s]/.test(t[j])) j++;
  return j < n && j > i ? j : -1;
}

function skipWs(t: string, i: number): number {
  while (i < t.length && /\s/.test(t[i])) i++;
  return i;
}

export interface RecoveredState {
  /** the top-level fields that are whole (log_history holds only its whole entries) */
  state: Record<string, unknown>;
  /** number of whole log_history entries */
  entries: number;
  /** byte-ish (UTF-16 index) and 1-based line where the text stops being whole */
  cutAt: number;
  cutLine: number;
  /** where the cut is: inside log_history (after `entries` entries), before it, or after it */
  where: 'before-log_history' | 'in-log_history' | 'after-log_history';
  /** the top-level keys seen whole */
  keys: string[];
}

/**
 * Read what is whole in a TrainerState JSON text cut short: every top-level field whose value is complete, and every
 * complete entry of `log_history` before the cut. Returns undefined when the text is not a cut JSON object (e.g. it
 * is corrupt in the middle rather than short).
 */
export function recoverTruncatedState(text: string): RecoveredState | undefined {
  const state: Record<string, unknown> = {};
  const keys: string[] = [];
  const lineAt = (k: number): number => { let l = 1; for (let j = 0; j < k && j < text.length; j++) if (text.charCodeAt(j) === 10) l++; return l; };
  let i = skipWs(text, 0);
  if (text[i] !== '{') return undefined;
  i++;
  let where: RecoveredState['where'] = 'before-log_history';
  // entries: the whole log_history entries so far (default: those of a log_history read whole, else none)
  const cut = (at: number, entries = Array.isArray(state.log_history) ? state.log_history.length : 0): RecoveredState => ({ state, entries, cutAt: at, cutLine: lineAt(at), where, keys });
  for (;;) {
    i = skipWs(text, i);
    if (i >= text.length) return cut(i);
    if (text[i] === '}') return undefined; // the object is whole: not a cut file (the caller's parse error is elsewhere)
    if (text[i] === ',') { i++; continue; }
    if (text[i] !== '"') return undefined;
    const kEnd = scanValue(text, i);
    if (kEnd < 0) return cut(i);
    const key = JSON.parse(text.slice(i, kEnd)) as string;
    i = skipWs(text, kEnd);
    if (i >= text.length) return cut(i);
    if (text[i] !== ':') return undefined;
    i = skipWs(text, i + 1);
    if (i >= text.length) return cut(i);
    const vEnd = scanValue(text, i);
    if (vEnd >= 0) {
      const p = parsePyJson(text.slice(i, vEnd));
      if (!p.ok) return undefined;
      state[key] = p.value;
      keys.push(key);
      if (key === 'log_history') where = 'after-log_history';
      i = vEnd;
      continue;
    }
    // the value runs past the end of the text
    if (key !== 'log_history' || text[i] !== '[') return cut(i);
    where = 'in-log_history';
    const entries: unknown[] = [];
    state.log_history = entries;
    let j = i + 1;
    for (;;) {
      j = skipWs(text, j);
      if (j >= text.length) return cut(j, entries.length);
      if (text[j] === ',') { j++; continue; }
      const eEnd = scanValue(text, j);
      if (eEnd < 0) return cut(j, entries.length);
      const p = parsePyJson(text.slice(j, eEnd));
      if (!p.ok) return undefined;
      entries.push(p.value);
      j = eEnd;
    }
  }
}

/** Names of the numeric steps of log_history entries (for messages). */
export function stepOfEntry(e: unknown): number | undefined {
  return isObject(e) && typeof e.step === 'number' ? e.step : undefined;
}
