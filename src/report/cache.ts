/**
 * On-disk cache of checkpoint reports: `<checkpoint>/report.json` = { version, reports: {key → CheckpointReport},
 * evals: {key → CheckpointEval} }. Keys hash the identity of the weight files (path, size, mtime) and the settings,
 * so a rewritten checkpoint is never served a stale report. Node fs + crypto only: the extension host reads it too
 * (a cached diff opens without starting the trainer).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { REPORT_VERSION, type CheckpointEval, type CheckpointReport, type ReportSettings } from './types';

export const REPORT_CACHE_FILE = 'report.json';
const MAX_ENTRIES = 8;

interface CacheFile { version: number; reports: Record<string, CheckpointReport>; evals: Record<string, CheckpointEval & { savedAt?: string }> }

function fileIdentity(dir: string): { path: string; size: number; mtimeMs: number; metaMtimeMs: number } {
  const w = path.join(dir, 'model.safetensors');
  const m = path.join(dir, 'checkpoint.json');
  let st: fs.Stats, sm: fs.Stats;
  try { st = fs.statSync(w); } catch { throw new Error(`${w}: missing (not a checkpoint folder?)`); }
  try { sm = fs.statSync(m); } catch { throw new Error(`${m}: missing (not a checkpoint folder, or an interrupted write)`); }
  return { path: fs.realpathSync(dir), size: st.size, mtimeMs: Math.round(st.mtimeMs), metaMtimeMs: Math.round(sm.mtimeMs) };
}

function hash(x: unknown): string {
  return crypto.createHash('sha1').update(JSON.stringify(x)).digest('hex').slice(0, 16);
}

/** Key of the report of `dir` against `baseDir` with `settings`. */
export function reportKey(dir: string, baseDir: string | undefined, settings: ReportSettings): string {
  return hash({ v: REPORT_VERSION, a: fileIdentity(dir), b: baseDir ? fileIdentity(baseDir) : null, s: settingsKey(settings) });
}

/** Key of the generations + pass@k of one checkpoint with `settings`. */
export function evalKey(dir: string, settings: ReportSettings): string {
  return hash({ v: REPORT_VERSION, a: fileIdentity(dir), s: settingsKey(settings) });
}

function settingsKey(s: ReportSettings): unknown[] {
  return [s.samples, s.numPrompts, s.seed, s.temperature, s.generations];
}

function readCache(dir: string): CacheFile {
  try {
    const c = JSON.parse(fs.readFileSync(path.join(dir, REPORT_CACHE_FILE), 'utf8')) as CacheFile;
    if (c && c.version === REPORT_VERSION && c.reports && c.evals) return c;
  } catch { /* missing or unreadable: start over */ }
  return { version: REPORT_VERSION, reports: {}, evals: {} };
}

function writeCache(dir: string, c: CacheFile): void {
  const trim = <T>(o: Record<string, T>) => Object.fromEntries(Object.entries(o).slice(-MAX_ENTRIES));
  const f = path.join(dir, REPORT_CACHE_FILE);
  const tmp = `${f}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ version: c.version, reports: trim(c.reports), evals: trim(c.evals) }));
  fs.renameSync(tmp, f);
}

export function getCachedReport(dir: string, key: string): CheckpointReport | undefined {
  return readCache(dir).reports[key];
}

export function getCachedEval(dir: string, key: string): CheckpointEval | undefined {
  return readCache(dir).evals[key];
}

/** Best effort: a read-only checkpoint folder just means no cache. */
export function putCached(dir: string, entry: { report?: CheckpointReport; eval?: { key: string; value: CheckpointEval } }): boolean {
  try {
    const c = readCache(dir);
    if (entry.report) { delete c.reports[entry.report.key]; c.reports[entry.report.key] = entry.report; }
    if (entry.eval) { delete c.evals[entry.eval.key]; c.evals[entry.eval.key] = entry.eval.value; }
    writeCache(dir, c);
    return true;
  } catch {
    return false;
  }
}

export const GENERATION_PARAM_LIMIT = 50_000_000;

/** Default report settings for a checkpoint's config (same function on both sides, so the host can find the cache). */
export function defaultSettings(config: Record<string, unknown> | undefined, over: Partial<ReportSettings> = {}): ReportSettings {
  const ev = (config?.eval ?? {}) as { numPrompts?: number; samplesPerPrompt?: number; temperature?: number };
  return {
    samples: over.samples ?? Math.max(16, ev.samplesPerPrompt ?? 0),
    numPrompts: over.numPrompts ?? Math.min(64, ev.numPrompts ?? 32),
    seed: over.seed ?? 1234,
    temperature: over.temperature ?? (ev.temperature ? ev.temperature : 1),
    // models above 50M parameters: weights only by default (a tfjs CPU/wasm generation pass would take minutes)
    generations: over.generations ?? !(Number((config?.derived as { parameters?: number } | undefined)?.parameters ?? 0) > GENERATION_PARAM_LIMIT),
  };
}

/** checkpoint.json's config (or undefined). */
export function readCheckpointConfig(dir: string): Record<string, unknown> | undefined {
  try { return (JSON.parse(fs.readFileSync(path.join(dir, 'checkpoint.json'), 'utf8')) as { config?: Record<string, unknown> }).config; } catch { return undefined; }
}
