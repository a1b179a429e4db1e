/**
 * Trainer-side cost of writing traces (issue 18, item 4): runs a short GRPO run in-process with the real trainer and
 * times every rollout write (RunWriter.writeRolloutStep: packing, the .f32 and .jsonl written and fsynced, the index
 * line; the step overview and doctor summary sidecars), and the metrics / eval lines with their columns cache, against
 * the run's wall time, for trace retention `every` = 1 (every step traced: the worst case) and the
 * default. The overhead is a ratio measured inside one run, so machine load affects both sides alike.
 * Run: node --import tsx scripts/bench-trace-cost.ts [--steps N] [--out FILE]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { resolveConfig } from '../src/trainer/config';
import { rlArithmeticPreset } from '../src/trainer/rl/register';
import { initBackend } from '../src/trainer/backend';
import '../src/trainer/plugins';
import { runTraining } from '../src/trainer/engine';
import { RunWriter } from '../src/runio/writer';

const args = process.argv.slice(2);
const steps = Number(args.includes('--steps') ? args[args.indexOf('--steps') + 1] : 12);
const out = args.includes('--out') ? args[args.indexOf('--out') + 1] : undefined;

async function main(): Promise<void> {
  await initBackend('wasm');
  const proto = RunWriter.prototype as unknown as { writeRolloutStep: (...a: unknown[]) => string };
  const orig = proto.writeRolloutStep;
  let writeMs = 0, writes = 0, bytes = 0;
  proto.writeRolloutStep = function (this: RunWriter, ...a: unknown[]) {
    const t = performance.now();
    const file = orig.apply(this, a);
    writeMs += performance.now() - t; writes++;
    try { bytes += fs.statSync(file).size; const f32 = file.replace(/\.jsonl$/, '.f32'); if (fs.existsSync(f32)) bytes += fs.statSync(f32).size; } catch { /* counted what exists */ }
    return file;
  };
  // the metrics and eval lines with the dashboard's columns cache the writer keeps as it goes (parsed back, written
  // every 4 MB and at the end of the run: runio/metricsCache.ts), timed the same way
  let linesMs = 0;
  for (const m of ['metrics', 'evalRecord', 'updateManifest'] as const) {
    const p = RunWriter.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
    const f = p[m];
    p[m] = function (this: RunWriter, ...a: unknown[]) { const t = performance.now(); try { return f.apply(this, a); } finally { linesMs += performance.now() - t; } };
  }
  const results: Record<string, unknown> = { date: new Date().toISOString(), machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 10) / 10) }, steps };
  for (const [name, rollouts] of [['every step traced (worst case)', { every: 1, maxSamples: 100000 }], ['default retention', undefined]] as const) {
    writeMs = 0; writes = 0; bytes = 0; linesMs = 0;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-tracecost-'));
    // the arithmetic GRPO preset (its default model and batch), no eval or checkpoints: what remains is steps and traces
    const cfg = resolveConfig(rlArithmeticPreset('grpo' as never, { name: 'trace-cost', backend: 'wasm', train: { steps, warmupSteps: 0 }, eval: { every: 0, atStart: false }, checkpoint: { every: 0 }, ...(rollouts ? { rollouts } : {}) }));
    const t0 = performance.now();
    const r = await runTraining(cfg, { outDir: path.join(dir, 'run') });
    const wall = performance.now() - t0;
    fs.rmSync(dir, { recursive: true, force: true });
    const all = writeMs + linesMs;
    results[name] = { status: r.status, wallMs: Math.round(wall), writeMs: Math.round(writeMs), writes, bytesWritten: bytes, overheadPercent: Math.round((writeMs / Math.max(1, wall - writeMs)) * 1000) / 10, metricsLinesMs: Math.round(linesMs), overheadWithLinesPercent: Math.round((all / Math.max(1, wall - all)) * 1000) / 10 };
    console.error(name, results[name]);
  }
  (results.machine as Record<string, unknown>).loadAverageAtEnd = os.loadavg().map((x) => Math.round(x * 10) / 10);
  const text = JSON.stringify(results, null, 2);
  console.log(text);
  if (out) fs.writeFileSync(out, text + '\n');
}
void main();
