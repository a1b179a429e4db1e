/**
 * verl → RL Lens.
 *
 * 1. Generation dumps (`trainer.rollout_data_dir`, `trainer.validation_data_dir`), written by
 *    `RayPPOTrainer._dump_generations` (verl/trainer/ppo/ray_trainer.py): one `{global_steps}.jsonl` per step, each line
 *    `{"input", "output", "gts", "score", "step", **reward_extra_infos}` (json.dumps(..., ensure_ascii=False); `gts`
 *    only in newer verl; reward_extra_infos are the extra keys the reward function returned, e.g. `acc`, `pred`).
 *    Rollout dumps become rollout steps; validation dumps become eval records (pass@k from `acc`, else `score` > 0).
 *    verl dumps carry no per-token data and no group ids (unless a `uid` column is dumped): samples are grouped by
 *    identical prompt within a step.
 * 2. The `file` logger (verl/utils/tracking.py `FileLogger`, trainer.logger=['file']): one line
 *    `{"step": N, "data": {metric: value}}` (newer verl adds `elapsed_seconds`) at $VERL_FILE_LOGGER_PATH or
 *    `$VERL_FILE_LOGGER_ROOT/<project>/<experiment>.jsonl`. Metric names are mapped (metricMap.ts), originals kept.
 * 3. The `console` logger (verl's default): text logs (`.log` / `.txt` / `.out` / `.err`, or any single file given)
 *    holding `step:N - name:value - ...` lines among everything else the run printed (verlConsole.ts). Metrics only:
 *    a console log has no rollouts. When a file-logger JSONL is present too, it wins (same values, full precision).
 */
import * as fs from 'fs';
import * as path from 'path';
import { passAtK } from '../shared/passAtK';
import type { EvalRecord, InputProblem, MetricsRecord, RolloutSampleInput } from '../shared/runFormat';
import { Problems, TailWatch, derivedStepMetrics, forEachLine, groupSamples, isObject, jsonSafe, keepExtra, listFiles, naturalCompare, parsePyJson, readRange, textOf } from './common';
import { OPENRLHF_METRICS, VERL_METRICS, mapMetrics } from './metricMap';
import { JsonlStepIndex, parseStep, type ConvertedSample, type PollResult, type Session, type StepOut } from './session';
import { CONSOLE_EXT, parseConsoleLine, sniffVerlConsole } from './verlConsole';

const DUMP_NAME = /^(\d+)\.jsonl$/;

export interface VerlLayout {
  rolloutFiles: string[];
  validationFiles: string[];
  metricFiles: string[];
  /** console-logger text logs (`step:N - name:value - ...` lines) */
  consoleFiles: string[];
  /** .jsonl files whose first 256 KB hold no recognisable line: every line of them is reported */
  unknownFiles: string[];
}

/** Peek at the first parsable lines of a JSONL file. */
export function sniffJsonl(file: string, maxLines = 1000): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const b = Buffer.alloc(256 * 1024);
      const n = fs.readSync(fd, b, 0, b.length, 0);
      const lines = b.toString('utf8', 0, n).split('\n');
      for (const l of lines.slice(0, maxLines + 1)) {
        if (out.length >= maxLines) break;
        const p = parsePyJson(l);
        if (p.ok && isObject(p.value)) out.push(p.value);
      }
    } finally { fs.closeSync(fd); }
  } catch { /* unreadable: nothing */ }
  return out;
}

export function isVerlDumpRecord(r: Record<string, unknown>): boolean { return 'input' in r && 'output' in r && 'score' in r; }
export function isVerlMetricsRecord(r: Record<string, unknown>): boolean { return 'step' in r && isObject(r.data); }

type FileKind = 'rollout' | 'validation' | 'metrics' | 'console' | 'unknown' | 'text';

/**
 * Find dumps and metric logs under `src` (a folder, a dump file, a metrics file or a console log). `cache` keeps
 * classifications between polls. Text files (.log/.txt/.out/.err) in a folder are console logs when they hold a verl
 * console-logger line (or, before the first one, a verl marker such as `(TaskRunner pid=`); other text files are left
 * alone ('text', looked at again when they grow). A single file that is not .jsonl is read as a console log.
 */
export function verlLayout(src: string, cache?: Map<string, FileKind>, textSizes?: Map<string, number>): VerlLayout {
  const lay: VerlLayout = { rolloutFiles: [], validationFiles: [], metricFiles: [], consoleFiles: [], unknownFiles: [] };
  const st = fs.statSync(src);
  const files = st.isFile() ? [src] : listFiles(src, (n) => n.endsWith('.jsonl') || CONSOLE_EXT.test(n));
  for (const f of files) {
    let kind = cache?.get(f);
    if (!f.endsWith('.jsonl')) {
      if (kind !== 'console') {
        const size = fileSize(f);
        if (kind === 'text' && textSizes?.get(f) === size) continue;
        const sn = st.isFile() ? undefined : sniffVerlConsole(f);
        kind = !sn || sn.metricLines > 0 || sn.verlMarker ? 'console' : 'text';
        textSizes?.set(f, size);
        cache?.set(f, kind);
      }
      if (kind === 'console') lay.consoleFiles.push(f);
      continue;
    }
    if (!kind || kind === 'unknown') {
      const recs = sniffJsonl(f);
      const isDumpName = DUMP_NAME.test(path.basename(f));
      if (recs.some(isVerlMetricsRecord)) kind = 'metrics';
      else if (recs.some(isVerlDumpRecord) || isDumpName) {
        const rel = path.relative(st.isFile() ? path.dirname(src) : src, f);
        kind = /(^|[\\/_-])val/i.test(path.dirname(rel)) || /val/i.test(path.basename(path.dirname(f))) ? 'validation' : 'rollout';
      } else kind = !recs.length && sniffVerlConsole(f).metricLines > 0 ? 'console' : 'unknown'; // a console log saved as .jsonl
      cache?.set(f, kind);
    }
    ({ rollout: lay.rolloutFiles, validation: lay.validationFiles, metrics: lay.metricFiles, console: lay.consoleFiles, unknown: lay.unknownFiles, text: [] as string[] })[kind].push(f);
  }
  const byNum = (a: string, b: string): number => naturalCompare(a, b);
  lay.rolloutFiles.sort(byNum); lay.validationFiles.sort(byNum); lay.metricFiles.sort(byNum); lay.consoleFiles.sort(byNum); lay.unknownFiles.sort(byNum);
  return lay;
}

/** A metrics dict from a run with a value model (PPO / GAE): critic/vf_* or critic/values* names. */
function hasCriticMetrics(data: Record<string, unknown>): boolean {
  return Object.keys(data).some((k) => k.startsWith('critic/vf_') || k.startsWith('critic/values'));
}

function fileSize(f: string): number { try { return fs.statSync(f).size; } catch { return -1; } }

/**
 * verl names → RL Lens names (VERL_METRICS), plus older verl's scaled learning rate: fsdp_workers.py
 * `metrics['actor/lr(1e-4)'] = lr * 1e4` (volcengine/verl ≤ 0.2), so `lr` = value × 1e-4.
 */
export function mapVerlMetrics(data: Record<string, unknown>): ReturnType<typeof mapMetrics> {
  const m = mapMetrics(data, VERL_METRICS);
  if (!('lr' in data) && !('actor/lr' in data)) {
    for (const k of Object.keys(data)) {
      const s = /^actor\/lr\(1e-(\d+)\)$/.exec(k);
      const v = m.values[k];
      if (s && typeof v === 'number') { m.values.lr = v * 10 ** -Number(s[1]); break; }
    }
  }
  return m;
}

/**
 * A verl console-logger line (verlConsole.ts) found inside a JSONL file that also holds JSON lines: named for what it
 * is, not "not valid JSON". (A JSONL file holding only console lines is read as a console log.)
 */
const VERL_CONSOLE_LINE = /(?:^|[\s)\]])step:\s*\d+\s+-\s+[^\s:]+:\s*-?[\d.]/;
const VERL_CONSOLE_MESSAGE = "a verl console-logger line (step:N - name:value - ...) inside a JSONL file; line skipped. RL Lens reads console logs as whole text files (.log / .txt / .out / .err, or any single file given): keep the console output in its own file and import that (or log with trainer.logger=['console','file'] and import the file logger's JSONL)";

const CORE = new Set(['input', 'output', 'score', 'step', 'gts']);

/** Convert one verl dump line. */
export function convertVerlRecord(rec: Record<string, unknown>, file: string, line: number, problems: Problems): ConvertedSample | undefined {
  const bad = (field: string, message: string, severity: 'error' | 'warning' = 'error'): void => problems.add({ file, line, field, message, severity });
  if (rec.input === undefined) { bad('input', 'missing "input"; line skipped'); return undefined; }
  if (rec.output === undefined) { bad('output', 'missing "output"; line skipped'); return undefined; }
  let score = rec.score;
  if (typeof score === 'boolean') score = score ? 1 : 0;
  if (typeof score !== 'number') { bad('score', score === undefined ? 'missing "score"; line skipped' : `"score" must be a number, got ${JSON.stringify(score)}; line skipped`); return undefined; }
  if (!Number.isFinite(score)) { bad('score', `"score" is ${score} (not finite); line skipped`); return undefined; }
  const parts: Record<string, number> = {};
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) {
    if (CORE.has(k)) continue;
    const num = typeof v === 'boolean' ? (v ? 1 : 0) : v;
    if (typeof num === 'number') {
      if (Number.isFinite(num)) parts[k] = num;
      else { bad(k, `reward field "${k}" is ${num} (not finite); left out of the reward parts (kept in extra as null)`, 'warning'); extra[k] = null; }
    } else keepExtra(extra, k, v, (field, message) => bad(field, message, 'warning'));
  }
  if (rec.gts !== undefined) keepExtra(extra, 'gts', rec.gts, (field, message) => bad(field, message, 'warning'));
  if (typeof rec.input !== 'string') extra.input_raw = jsonSafe(rec.input);
  const sample: RolloutSampleInput = {
    group: '', prompt: textOf(rec.input), completion: textOf(rec.output), tokens: [], reward: score, length: 0,
    source: { file: path.basename(file), line },
  };
  if (Object.keys(parts).length) sample.rewardParts = parts;
  if (Object.keys(extra).length) sample.extra = extra;
  return { sample, arrays: {} };
}

export function evalFromSamples(step: number, samples: RolloutSampleInput[], time?: number): EvalRecord {
  const { groups } = groupSamples(samples, () => undefined);
  const correct = (s: RolloutSampleInput): boolean => {
    const acc = s.rewardParts?.acc;
    return acc !== undefined ? acc > 0 : s.reward > 0;
  };
  const items = groups.map((g) => ({
    prompt: g.prompt,
    completions: g.samples.map((i) => samples[i].completion),
    rewards: g.samples.map((i) => samples[i].reward),
    correct: g.samples.filter((i) => correct(samples[i])).length,
  }));
  const minN = items.length ? Math.min(...items.map((it) => it.completions.length)) : 0;
  const ks: number[] = [];
  for (let k = 1; k <= minN; k *= 2) ks.push(k); // k ≤ every prompt's n: pass@k is undefined for k > n (shared/passAtK.ts)
  const pass: Record<string, number> = {};
  for (const k of ks) pass[String(k)] = items.reduce((a, it) => a + passAtK(it.completions.length, it.correct, k), 0) / items.length;
  const rewards = samples.map((s) => s.reward);
  const rec: EvalRecord = { step, passAtK: pass, samplesPerPrompt: minN, numPrompts: items.length, meanReward: rewards.reduce((a, b) => a + b, 0) / (rewards.length || 1), items };
  if (time !== undefined) rec.time = time;
  return rec;
}

export class VerlSession implements Session {
  readonly format = 'verl' as const;
  readonly problems = new Problems();
  readonly stepProblems = new Map<number, InputProblem[]>();
  readonly notes = new Set<string>();
  readonly tails: TailWatch;
  private readonly rolloutIndex: JsonlStepIndex;
  private readonly valIndex: JsonlStepIndex;
  private layout: VerlLayout = { rolloutFiles: [], validationFiles: [], metricFiles: [], consoleFiles: [], unknownFiles: [] };
  private readonly textSizes = new Map<string, number>();
  private readonly consoleState = new Map<string, { offset: number; line: number; inValSummary: boolean; afterMetric: boolean }>();
  private consoleLines = 0;
  private consoleMetricLines = 0;
  private consoleOtherLines = 0;
  private consoleValSummaryLines = 0;
  private consoleSkippedForFileLogger = 0;
  private readonly metricState = new Map<string, { offset: number; line: number }>();
  private readonly kinds = new Map<string, FileKind>();
  private readonly sampleCounts = new Map<number, number>();
  private readonly metricSteps = new Set<number>();
  private readonly derivedPending = new Map<number, Record<string, number | null>>();
  private readonly derivedDone = new Set<number>();
  private readonly valPending = new Set<number>();
  private readonly valDone = new Set<number>();
  private metricLines = 0;
  private evalCount = 0;
  private sawCritic = false;

  constructor(private readonly src: string, opts: { staleTailMs?: number } = {}) {
    this.tails = new TailWatch(opts.staleTailMs);
    this.rolloutIndex = new JsonlStepIndex(this.problems, this.tails);
    this.valIndex = new JsonlStepIndex(this.problems, this.tails);
  }

  algorithm(): string { return this.metricSteps.size ? (this.sawCritic ? 'ppo' : 'grpo') : 'unknown'; }

  counts(): Record<string, number> {
    let samples = 0;
    for (const n of this.sampleCounts.values()) samples += n;
    return {
      files: this.layout.rolloutFiles.length + this.layout.validationFiles.length + this.layout.metricFiles.length + this.layout.consoleFiles.length + this.layout.unknownFiles.length,
      lines: this.rolloutIndex.lines + this.valIndex.lines + this.metricLines + this.consoleLines,
      samples, steps: this.sampleCounts.size, metricsRecords: this.metricSteps.size, evalRecords: this.evalCount,
      ...(this.layout.consoleFiles.length ? {
        consoleFiles: this.layout.consoleFiles.length, consoleLines: this.consoleLines, consoleMetricLines: this.consoleMetricLines,
        consoleOtherLines: this.consoleOtherLines, consoleValidationSummaryLines: this.consoleValSummaryLines,
      } : {}),
    };
  }

  private stepOfDump(file: string) {
    const m = DUMP_NAME.exec(path.basename(file));
    const fromName = m ? Number(m[1]) : undefined;
    return (r: Record<string, unknown>): number | string => {
      if (r.step === undefined && fromName !== undefined) return fromName;
      return parseStep(r.step);
    };
  }

  async poll(final: boolean): Promise<PollResult> {
    this.layout = verlLayout(this.src, this.kinds, this.textSizes);
    const metrics: MetricsRecord[] = [];
    // 1. file-logger metrics
    for (const f of this.layout.metricFiles) {
      const st = this.metricState.get(f) ?? { offset: 0, line: 1 };
      const r = forEachLine(f, { offset: st.offset, line: st.line, final }, (l) => {
        if (!l.text.trim()) return;
        this.metricLines++;
        const p = parsePyJson(l.text);
        if (!p.ok) {
          this.problems.add(l.terminated ? { file: f, line: l.line, message: VERL_CONSOLE_LINE.test(l.text) ? VERL_CONSOLE_MESSAGE : `not valid JSON (${p.error}); line skipped` } : { file: f, line: l.line, severity: 'warning', message: 'torn last line (the writer was interrupted or is still writing); skipped' });
          return;
        }
        const rec = p.value;
        if (!isObject(rec) || !isObject(rec.data)) { this.problems.add({ file: f, line: l.line, field: 'data', message: 'expected {"step": N, "data": {...}}; line skipped' }); return; }
        const step = parseStep(rec.step);
        if (typeof step === 'string') { this.problems.add({ file: f, line: l.line, field: 'step', message: `${step}; line skipped` }); return; }
        // OpenRLHF histories exported as {"step","data"} lines (keys `train/<name>`, see OPENRLHF_METRICS)
        const openrlhf = 'train/policy_loss' in rec.data || 'policy_loss' in rec.data;
        const m = openrlhf ? mapMetrics(rec.data, OPENRLHF_METRICS, { stripPrefix: 'train/' }) : mapVerlMetrics(rec.data);
        if (openrlhf) this.notes.add('lines with OpenRLHF metric names (policy_loss, ppo_kl, ...; train/ prefix of its wandb logs) mapped to RL Lens names (policy_loss → pg_loss, ppo_clip_ratio → clip_ratio/region_mean, ...)');
        for (const k of m.nonFinite) this.problems.add({ file: f, line: l.line, field: `data.${k}`, severity: 'warning', message: 'value is NaN/Infinity; stored as null (missing)' });
        for (const k of m.nonNumeric) this.problems.add({ file: f, line: l.line, field: `data.${k}`, severity: 'warning', message: `not a number (${JSON.stringify(rec.data[k])?.slice(0, 60)}); not a metric, skipped` });
        if (hasCriticMetrics(rec.data)) this.sawCritic = true;
        const out: MetricsRecord = { step, values: m.values };
        if (typeof rec.elapsed_seconds === 'number' && Number.isFinite(rec.elapsed_seconds)) out.time = rec.elapsed_seconds;
        const keys = Object.keys(rec.data);
        if (keys.length && keys.every((k) => k.startsWith('val-') || k.startsWith('val/'))) out.split = 'eval';
        metrics.push(out);
        this.metricSteps.add(step);
      });
      this.metricState.set(f, { offset: r.nextOffset, line: r.nextLine });
      if (!final) this.tails.note(f, r.nextOffset, r.nextLine);
    }
    if (this.layout.metricFiles.length) this.notes.add('verl metric names mapped to RL Lens names (critic/score/mean → reward/mean, actor/entropy → entropy, actor/pg_clipfrac → clip_ratio/region_mean, ...); the original names are kept too');

    // 1b. files that match nothing: report every line (a corrupted dump or log must not vanish silently)
    for (const f of this.layout.unknownFiles) {
      const st = this.metricState.get(f) ?? { offset: 0, line: 1 };
      const r = forEachLine(f, { offset: st.offset, line: st.line, final }, (l) => {
        if (!l.text.trim()) return;
        this.metricLines++;
        const p = parsePyJson(l.text);
        this.problems.add(!p.ok
          ? (l.terminated ? { file: f, line: l.line, message: VERL_CONSOLE_LINE.test(l.text) ? VERL_CONSOLE_MESSAGE : `not valid JSON (${p.error}); line skipped` } : { file: f, line: l.line, severity: 'warning', message: 'torn last line; skipped' })
          : { file: f, line: l.line, message: 'neither a verl generation dump line ({"input","output","score",...}) nor a file-logger line ({"step","data"}); skipped' });
      });
      this.metricState.set(f, { offset: r.nextOffset, line: r.nextLine });
      if (!final) this.tails.note(f, r.nextOffset, r.nextLine);
    }

    // 1c. console logs (verl's default logger): `step:N - name:value - ...` lines among everything else
    for (const f of this.layout.consoleFiles) this.readConsole(f, final, metrics);

    // 2. rollout dumps
    const touched = new Set<number>();
    for (const f of this.layout.rolloutFiles) for (const s of this.rolloutIndex.scan(f, final, this.stepOfDump(f))) touched.add(s);
    const steps: StepOut[] = [];
    for (const step of [...touched].sort((a, b) => a - b)) {
      const out = this.buildStep(step);
      if (out) steps.push(out);
    }
    // derived metrics only when there is no metrics file at all
    if (!this.layout.metricFiles.length && !this.layout.consoleFiles.length) {
      const all = [...this.derivedPending.keys()].sort((a, b) => a - b);
      const max = all.length ? all[all.length - 1] : -1;
      for (const s of all) {
        if (!final && s === max) continue;
        metrics.push({ step: s, values: this.derivedPending.get(s)! });
        this.derivedPending.delete(s);
        this.derivedDone.add(s);
      }
      if (this.derivedDone.size) this.notes.add('per-step metrics derived from the rollout dumps (no verl file-logger metrics found)');
    }

    // 3. validation dumps → eval records (emitted once complete: a later one exists, or at the end)
    for (const f of this.layout.validationFiles) for (const s of this.valIndex.scan(f, final, this.stepOfDump(f))) if (!this.valDone.has(s)) this.valPending.add(s);
    const evals: EvalRecord[] = [];
    const vals = [...this.valPending].sort((a, b) => a - b);
    for (const s of vals) {
      if (!final && s === vals[vals.length - 1]) continue;
      const probs = new Problems();
      const samples: RolloutSampleInput[] = [];
      for (const { ref, rec } of this.valIndex.records(s, this.layout.validationFiles)) {
        const c = convertVerlRecord(rec, ref.file, ref.line, probs);
        if (c) samples.push(c.sample);
      }
      this.problems.addAll(probs.list);
      this.valPending.delete(s);
      this.valDone.add(s);
      if (!samples.length) continue;
      evals.push(evalFromSamples(s, samples));
      this.evalCount++;
      this.notes.add('validation dumps converted to eval records: pass@k per prompt (correct = reward field "acc" if present, else score > 0)');
    }
    return { steps, metrics, evals };
  }

  /** Read new lines of a console log: metric lines become metrics records, every other line is counted and skipped. */
  private readConsole(f: string, final: boolean, metrics: MetricsRecord[]): void {
    const st = this.consoleState.get(f) ?? { offset: 0, line: 1, inValSummary: false, afterMetric: false };
    if (fileSize(f) < st.offset) { st.offset = 0; st.line = 1; } // truncated / replaced: read again (forEachLine does the same)
    // the file logger's JSONL holds the same values at full precision: when present it wins, console lines are counted only
    const fileLogger = this.layout.metricFiles.length > 0;
    const r = forEachLine(f, { offset: st.offset, line: st.line, final }, (l) => {
      if (!l.text.trim()) return;
      this.consoleLines++;
      const c = parseConsoleLine(l.text, st.inValSummary);
      st.inValSummary = c.kind === 'val-summary' && c.open;
      if (c.kind !== 'metrics') {
        if (c.kind === 'val-summary') this.consoleValSummaryLines++;
        else this.consoleOtherLines++;
        if (c.kind === 'continuation' && st.afterMetric) {
          this.problems.add({ file: f, line: l.line, severity: 'warning', message: 'looks like the rest of the step line above, wrapped onto a new line (verl prints each step on one line); these values are not read: join the wrapped lines to import them' });
        } else if (c.kind === 'other' && /^\s*(?:\([^)]*\)\s*)?Traceback \(most recent call last\)/.test(l.text)) {
          this.notes.add(`the console log has a Python traceback (first at ${path.basename(f)}:${l.line}): the run may have crashed there`);
        }
        st.afterMetric = st.afterMetric && c.kind === 'continuation';
        return;
      }
      st.afterMetric = true;
      if (!l.terminated) { this.consoleMetricLines++; this.problems.add({ file: f, line: l.line, severity: 'warning', message: 'torn last line (a step line without its newline: the run was cut off while printing it, so its values may be cut short); skipped' }); return; }
      this.consoleMetricLines++;
      if (fileLogger) { this.consoleSkippedForFileLogger++; return; }
      for (const b of c.bad) this.problems.add({ file: f, line: l.line, field: b.key, severity: 'warning', message: b.raw ? `not a number (${JSON.stringify(b.raw.slice(0, 60))}); not a metric, skipped` : 'not a name:value pair; skipped' });
      for (const k of c.dup) this.problems.add({ file: f, line: l.line, field: k, severity: 'warning', message: 'name appears twice on the line; the last value is kept' });
      const m = mapVerlMetrics(c.data);
      for (const k of m.nonFinite) this.problems.add({ file: f, line: l.line, field: k, severity: 'warning', message: 'value is NaN/Infinity; stored as null (missing)' });
      if (hasCriticMetrics(c.data)) this.sawCritic = true;
      const out: MetricsRecord = { step: c.step, values: m.values };
      const keys = Object.keys(c.data);
      if (keys.length && keys.every((k) => k.startsWith('val-') || k.startsWith('val/'))) out.split = 'eval';
      metrics.push(out);
      this.metricSteps.add(c.step);
      if (c.rounded3) this.notes.add("console values have 3 decimals (older verl's concat_dict_to_str prints f\"{k}:{v:.3f}\"): small values such as lr or KL may read as 0.000; the file logger (trainer.logger=['console','file']) or newer verl (pprint.pformat) keeps full precision");
      if (c.npScalars) this.notes.add('numpy scalar values (np.float64(...), as verl prints them with pprint.pformat under numpy ≥ 2) read as plain numbers');
    });
    st.offset = r.nextOffset; st.line = r.nextLine;
    this.consoleState.set(f, st);
    if (!final) {
      // a tail without newline is normal in a console log (tqdm redraws its bar with '\r' and no '\n'): only a
      // step line still being printed is worth waiting for (and reporting if it never ends)
      const size = fileSize(f);
      const tail = size > r.nextOffset ? readRange(f, r.nextOffset, Math.min(size - r.nextOffset, 1024 * 1024)) : '';
      if (tail && parseConsoleLine(tail).kind === 'metrics') this.tails.note(f, r.nextOffset, r.nextLine);
      else this.tails.forget(f);
    }
    if (this.consoleMetricLines && !fileLogger) {
      this.notes.add("metrics read from verl console-logger lines (step:N - name:value - ..., LocalLogger / concat_dict_to_str); verl metric names mapped to RL Lens names (critic/score/mean → reward/mean, actor/entropy → entropy, ...), the original names kept too");
      if (!this.layout.rolloutFiles.length) this.notes.add('console logs hold no rollouts (no prompts, completions, per-sample rewards or per-token data): only metrics were imported; for rollouts set trainer.rollout_data_dir and import its dumps');
      this.notes.add('other console lines (Ray / vLLM / warnings, config dumps, progress bars, stack traces) are not metrics: skipped and counted (counts.consoleOtherLines; pprint-ed "Initial/Final validation metrics" summaries, which repeat a step line, in counts.consoleValidationSummaryLines)');
    }
    if (this.consoleSkippedForFileLogger) this.notes.add("a verl file-logger JSONL is present: its metrics were imported and the console log's step lines (the same values, printed) were not, to avoid importing each step twice");
  }

  private buildStep(step: number): StepOut | undefined {
    const probs = new Problems();
    const samples: RolloutSampleInput[] = [];
    for (const { ref, rec } of this.rolloutIndex.records(step, this.layout.rolloutFiles)) {
      if (rec.step !== undefined && parseStep(rec.step) !== step) probs.add({ file: ref.file, line: ref.line, field: 'step', severity: 'warning', message: `line says step ${JSON.stringify(rec.step)} but the file is step ${step}` });
      const c = convertVerlRecord(rec, ref.file, ref.line, probs);
      if (c) samples.push(c.sample);
    }
    this.stepProblems.set(step, probs.list);
    this.sampleCounts.set(step, samples.length);
    if (!samples.length) return undefined;
    const { groups, byPrompt } = groupSamples(samples, (s) => {
      const uid = (s.extra as Record<string, unknown> | undefined)?.uid;
      return typeof uid === 'string' || typeof uid === 'number' ? String(uid) : undefined;
    }, (s) => {
      const gts = (s.extra as Record<string, unknown> | undefined)?.gts;
      return typeof gts === 'string' || typeof gts === 'number' ? String(gts) : undefined;
    });
    if (byPrompt) this.notes.add('rollouts grouped by identical prompt within each step (verl dumps have no group ids)');
    this.notes.add('verl dumps carry no per-token data: samples have text, score and reward fields only');
    if (!this.derivedDone.has(step)) this.derivedPending.set(step, derivedStepMetrics(samples, samples.map(() => ({}))));
    return { step, header: { step, algorithm: this.algorithm(), arrays: [], groups, sourceFormat: 'verl' }, samples, arrays: samples.map(() => ({})) };
  }
}
