/**
 * verl's console logger (`trainer.logger=['console']`, verl's default) → metrics.
 *
 * What verl prints (verl/utils/tracking.py `Tracking.__init__`: `if "console" in default_backend: ...
 * self.console_logger = LocalLogger(print_to_console=True)`; `Tracking.log` calls `logger_instance.log(data=data,
 * step=step)` on every backend), verl/utils/logger/aggregate_logger.py:
 *
 *   older verl (volcengine/verl 6f8f46e17a8aaab4743b3ae6dc6410c93cdd1e9e and 261205bb2161d2cd0ee1b0007a3f124a1a9131ae):
 *       def concat_dict_to_str(dict: Dict, step):
 *           output = [f"step:{step}"]
 *           for k, v in dict.items():
 *               if isinstance(v, numbers.Number):
 *                   output.append(f"{k}:{v:.3f}")
 *           output_str = " - ".join(output)
 *   current verl (verl-project/verl b017a83320fdbc6c4e76efe499dc5f3f4aec76af):
 *                   output.append(f"{k}:{pprint.pformat(v)}")
 *   both:   LocalLogger.log: print(concat_dict_to_str(data, step=step), flush=True)
 *
 * So one line per `logger.log` call: `step:N - name:value - name:value ...`, values either with 3 decimals (`0.004`,
 * `-0.005`, `nan`, `inf`) or Python reprs (`0.36423397064208984`, `1e-06`, `12`, `True`, and numpy ≥ 2 scalars as
 * `np.float64(0.0042)` / `np.int64(3)`). Only numbers are printed (isinstance(v, numbers.Number)).
 *
 * Real logs add around it: Ray's worker prefix `(TaskRunner pid=480334) ` / `(main_task pid=...)` /
 * `(TaskRunner pid=15930, ip=10.4.1.33) `, ANSI colour codes around that prefix, Ray's `[repeated 8x across cluster]`
 * suffix, timestamps from `ts` / docker / k8s, tqdm bars (written with '\r', and a metric line can arrive glued
 * behind a bar's `]`), warnings, config dumps and stack traces. verl's ray_trainer also pprints
 * `pprint(f"Initial validation metrics: {val_metrics}")` / `pprint(f"Final validation metrics: {last_val_metrics}")`,
 * which Python wraps over several lines as a parenthesised string (`("Initial validation metrics: {'val/...': "` /
 * ` '0.1326762699014405}')`): the same values are logged by `logger.log(data=val_metrics, step=...)` on a step line,
 * so those blocks are recognised and counted, not imported twice.
 */
import * as fs from 'fs';

/** ANSI CSI / OSC escape sequences (colours, cursor moves) */
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;
const RAY_REPEATED = /\s*\[repeated \d+x across cluster\]\s*$/;
/** `step:N` not inside a longer name (`timing_s/step:`, `training/global_step:`, `/ckpt/global_step:9/actor`) */
const STEP_MARK = /(?:^|[^\w/.\-:])step:(\d+)(?=\s+-\s|\s*$)/;
const RAY_PREFIX = /^\s*\((?:[\w.-]+ )?pid=\d+[^)]*\)\s*/;
const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;
const NONFINITE = /^([-+]?)(nan|inf|infinity)$/i;
/** numpy scalar reprs (numpy ≥ 2): np.float64(0.1), np.float32(nan), np.int64(3), numpy.float64(...) */
const NUMPY = /^(?:np|numpy)\.(?:float|int|uint|longdouble|double|half|single|longlong|ulonglong|intc|uintc)\d*\((.*)\)$/;
const ROUNDED3 = /^[-+]?\d+\.\d{3}$/;

export function cleanConsoleText(text: string): string {
  return text.replace(ANSI, '').replace(RAY_REPEATED, '');
}

/** A value as verl prints it → number (NaN / ±Infinity for nan / inf), or undefined when it is not a number. */
export function parseConsoleValue(raw: string): number | undefined {
  let s = raw.trim();
  const np = NUMPY.exec(s);
  if (np) s = np[1].trim();
  if (s === 'True') return 1;
  if (s === 'False') return 0;
  if (NUMBER.test(s)) return Number(s);
  const nf = NONFINITE.exec(s);
  if (nf) return nf[2].toLowerCase() === 'nan' ? NaN : nf[1] === '-' ? -Infinity : Infinity;
  return undefined;
}

export type ConsoleLine =
  | { kind: 'metrics'; step: number; data: Record<string, number>; bad: { key: string; raw: string }[]; dup: string[]; rounded3: boolean; npScalars: boolean; prefix: string }
  | { kind: 'val-summary'; open: boolean }
  | { kind: 'continuation' }
  | { kind: 'other' };

/** `("Initial validation metrics: {...` / `('Final validation metrics: ...` (pprint of an f-string), and its wrapped lines */
const VAL_SUMMARY_START = /^\(?\s*["'](?:Initial|Final) validation metrics: /;
const VAL_SUMMARY_CONT = /^\s*["'].*["']\)?\s*$/;

/**
 * Classify one line of a console log. `inValSummary`: the previous line opened (or continued) a pprint-wrapped
 * validation summary, so a line that is only a string literal continues it.
 */
export function parseConsoleLine(rawText: string, inValSummary = false): ConsoleLine {
  const text = cleanConsoleText(rawText);
  // tqdm redraws with '\r': the metric print may sit in any segment of one physical line
  for (const seg0 of text.split('\r')) {
    const m = STEP_MARK.exec(seg0);
    if (!m) continue;
    const seg = seg0.trimEnd();
    const before = seg.slice(0, m.index + m[0].indexOf('step:'));
    const rest = seg.slice(m.index + m[0].length);
    const data: Record<string, number> = {};
    const bad: { key: string; raw: string }[] = [];
    const dup: string[] = [];
    let rounded3 = true; let anyFloat = false; let npScalars = false;
    const parts = rest.split(/\s+-\s+/).slice(1); // rest = " - k:v - k:v"
    for (const part of parts) {
      const p = part.trim();
      const i = p.lastIndexOf(':');
      if (i < 1) { bad.push({ key: p.slice(0, 60), raw: '' }); continue; }
      const key = p.slice(0, i).trim();
      const raw = p.slice(i + 1).trim();
      const v = parseConsoleValue(raw);
      if (v === undefined) { bad.push({ key, raw }); continue; }
      if (key in data) dup.push(key);
      data[key] = v;
      const np = NUMPY.exec(raw);
      if (np) npScalars = true;
      const inner = (np?.[1] ?? raw).trim();
      if (!NONFINITE.test(inner) && inner !== 'True' && inner !== 'False') { anyFloat = true; if (!ROUNDED3.test(inner)) rounded3 = false; }
    }
    // a bare "step:N" with nothing after is only a metric line when nothing but a Ray prefix / whitespace precedes it
    if (!parts.length && before.replace(RAY_PREFIX, '').trim() !== '') continue;
    // most of the pairs must be name:number, or this is prose that happens to contain "step:3 - "
    if (parts.length && Object.keys(data).length === 0) continue;
    return { kind: 'metrics', step: Number(m[1]), data, bad, dup, rounded3: anyFloat && rounded3, npScalars, prefix: before };
  }
  const body = text.replace(RAY_PREFIX, '');
  // pprint wraps a long string as ("part1 " / " part2") over several lines; a short one stays one quoted line
  if (VAL_SUMMARY_START.test(body)) return { kind: 'val-summary', open: /^\s*\(/.test(body) && !/\)\s*$/.test(body) };
  if (inValSummary && VAL_SUMMARY_CONT.test(body)) return { kind: 'val-summary', open: !/\)\s*$/.test(body) };
  // "- name:value - name:value" alone: the rest of a step line that something wrapped (verl prints one line per step)
  if (/^\s*-\s+[^\s:]+:\S+/.test(body) && body.trim().split(/\s+-\s+|^-\s+/).filter(Boolean).every((p) => { const i = p.lastIndexOf(':'); return i > 0 && parseConsoleValue(p.slice(i + 1)) !== undefined; })) return { kind: 'continuation' };
  return { kind: 'other' };
}

/** Signs that a text log comes from a verl run even before its first metric line (for detection while it grows). */
const VERL_MARKERS = /verl\.trainer\.main_(?:ppo|generation|eval)|\bverl\/trainer\/|\(TaskRunner pid=\d+|\(main_task pid=\d+|from verl\b|Using LocalLogger is deprecated/;

/**
 * Look at the start of a text file (up to `maxBytes`, default 16 MB: verl prints its whole config and model setup
 * before the first step line) for verl console-logger lines. `metricLines` counts the step lines seen.
 */
export function sniffVerlConsole(file: string, maxBytes = 16 * 1024 * 1024): { metricLines: number; firstLine?: number; verlMarker: boolean } {
  let metricLines = 0; let firstLine: number | undefined; let verlMarker = false;
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch { return { metricLines, verlMarker }; }
  try {
    const size = fs.fstatSync(fd).size;
    const CHUNK = 1024 * 1024;
    let pos = 0; let carry = ''; let lineNo = 1;
    while (pos < Math.min(size, maxBytes) && metricLines < 3) {
      const b = Buffer.alloc(Math.min(CHUNK, size - pos));
      const n = fs.readSync(fd, b, 0, b.length, pos);
      if (n <= 0) break;
      pos += n;
      if (pos === n && b.subarray(0, Math.min(n, 8192)).includes(0)) return { metricLines: 0, verlMarker: false }; // binary
      const lines = (carry + b.toString('utf8', 0, n)).split('\n');
      carry = lines.pop() ?? '';
      for (const l of lines) {
        if (!verlMarker && VERL_MARKERS.test(l)) verlMarker = true;
        if (l.includes('step:') && parseConsoleLine(l).kind === 'metrics') { metricLines++; firstLine ??= lineNo; }
        lineNo++;
      }
    }
  } catch { /* unreadable: nothing */ } finally { fs.closeSync(fd); }
  return { metricLines, firstLine, verlMarker };
}

export const CONSOLE_EXT = /\.(log|txt|out|err)$/i;
