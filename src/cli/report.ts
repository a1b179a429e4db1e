/**
 * `rl-lens report CHECKPOINT_DIR [--base CHECKPOINT_DIR|previous|first] [--samples N] [--prompts N] [--seed N]
 *   [--temperature T] [--no-generations] [--json] [--out FILE] [--no-cache] [--backend B]`
 * Computes a checkpoint report (weights statistics, relative change vs a base, greedy generations on the fixed eval
 * prompts, pass@k of this and the base checkpoint) and caches it in `<checkpoint>/report.json`; a second call with
 * the same checkpoint files and settings answers from the cache. Prints the readable report (or `--json`).
 * Exit code: 0 ok, 1 error, 2 usage.
 */
import * as fs from 'fs';
import * as path from 'path';
import { REPORT_CACHE_FILE, defaultSettings, getCachedReport, readCheckpointConfig, reportKey } from '../report/cache';
import { renderReport } from '../report/render';
import type { ReportSettings } from '../report/types';
import { listCheckpoints } from '../runio/reader';

const USAGE = `usage: rl-lens report CHECKPOINT_DIR [options]
  Weights statistics, greedy generations on the run's fixed eval prompts and pass@k of one checkpoint (docs/checkpoint-diff.md).
  --base DIR|previous|first  relative change per tensor and base pass@k against this checkpoint
  --samples N            samples per prompt for pass@k (default max(16, eval.samplesPerPrompt)); k = 1, 2, 4, … N
  --prompts N            fixed eval prompts (default eval.numPrompts, at most 64)
  --seed N               sampling seed (default 1234)   --temperature T   pass@k sampling temperature (default eval.temperature)
  --no-generations       weights only (no model run; the default above 50M parameters)   --generations   force them
  --json                 print the report object as JSON     --out FILE   write the output to FILE
  --no-cache             recompute (and overwrite the cache)   --backend B   auto|tensorflow-gpu|tensorflow|wasm|cpu
  --progress-events      progress as JSON lines {"type":"progress","message":...} on stderr (the extension reads them)
`;

class UsageError extends Error {}

function resolveBase(dir: string, spec: string): string | undefined {
  if (spec !== 'previous' && spec !== 'first') return path.resolve(spec);
  const runDir = path.dirname(path.dirname(path.resolve(dir)));
  const list = listCheckpoints(runDir).filter((c) => c.meta);
  const i = list.findIndex((c) => path.resolve(c.dir) === path.resolve(dir));
  if (i < 0) throw new UsageError(`--base ${spec}: ${dir} is not inside a run's checkpoints folder`);
  if (spec === 'first') return list[0].dir;
  return i > 0 ? list[i - 1].dir : undefined;
}

export async function run(argv: string[]): Promise<number> {
  let dir: string | undefined; let base: string | undefined; let json = false; let out: string | undefined; let noCache = false;
  let backend = 'auto'; let progressEvents = false;
  const over: Partial<ReportSettings> = {};
  try {
    const num = (i: number, f: string, int = true): number => {
      const v = Number(argv[i]);
      if (argv[i] === undefined || !Number.isFinite(v) || (int && (!Number.isInteger(v) || v < 1))) throw new UsageError(`${f} needs ${int ? 'a positive integer' : 'a number'} (got ${JSON.stringify(argv[i] ?? '')})`);
      return v;
    };
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      switch (a) {
        case '--help': case '-h': process.stdout.write(USAGE); return 0;
        case '--base': base = argv[++i]; if (!base) throw new UsageError('--base needs a checkpoint folder, "previous" or "first"'); break;
        case '--samples': over.samples = num(++i, a); break;
        case '--prompts': over.numPrompts = num(++i, a); break;
        case '--seed': over.seed = num(++i, a); break;
        case '--temperature': over.temperature = num(++i, a, false); if (over.temperature <= 0) throw new UsageError('--temperature must be > 0 (pass@k needs sampling)'); break;
        case '--no-generations': over.generations = false; break;
        case '--generations': over.generations = true; break;
        case '--json': json = true; break;
        case '--out': out = argv[++i]; if (!out) throw new UsageError('--out needs a file'); break;
        case '--no-cache': noCache = true; break;
        case '--backend': backend = argv[++i] ?? ''; break;
        case '--progress-events': progressEvents = true; break;
        default:
          if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
          if (dir) throw new UsageError(`one checkpoint folder expected, got ${dir} and ${a}`);
          dir = a;
      }
    }
    if (!dir) throw new UsageError('missing CHECKPOINT_DIR');
    if (!fs.existsSync(path.join(dir, 'checkpoint.json'))) throw new UsageError(`${dir}: not a checkpoint folder (no checkpoint.json); checkpoints live in RUN_DIR/checkpoints/<name>`);
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`rl-lens report: ${e.message}\n${USAGE}`); return 2; }
    throw e;
  }
  const progress = (m: string) => process.stderr.write(progressEvents ? JSON.stringify({ type: 'progress', message: m }) + '\n' : `[rl-lens report] ${m}\n`);
  try {
    const baseDir = base ? resolveBase(dir, base) : undefined;
    const settings = defaultSettings(readCheckpointConfig(dir), over);
    const t0 = Date.now();
    const cached = noCache ? undefined : getCachedReport(path.resolve(dir), reportKey(path.resolve(dir), baseDir, settings));
    if (cached) {
      progress(`report from the cache (${path.join(dir, REPORT_CACHE_FILE)}) in ${Date.now() - t0} ms`);
      const text = json ? JSON.stringify(cached) + '\n' : renderReport(cached);
      if (out) fs.writeFileSync(out, text); else process.stdout.write(text);
      return 0;
    }
    // tfjs is loaded only when a model must run (weights-only or fully cached reports never load it)
    const { computeReport } = await import('../trainer/report/compute');
    if (settings.generations) {
      const { initBackend, describeBackend } = await import('../trainer/backend');
      const info = await initBackend(backend);
      progress(describeBackend(info));
    }
    const report = computeReport(dir, { base: baseDir, settings, noCache, progress });
    progress(`report ready in ${Date.now() - t0} ms${Object.keys(report.timings).length ? ` (${Object.entries(report.timings).map(([k, v]) => `${k} ${v}`).join(', ')})` : ''}`);
    const text = json ? JSON.stringify(report) + '\n' : renderReport(report);
    if (out) fs.writeFileSync(out, text); else process.stdout.write(text);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`rl-lens report: ${e.message}\n`); return 2; }
    process.stderr.write(`rl-lens report: ${(e as Error).message}\n`);
    return 1;
  }
}
