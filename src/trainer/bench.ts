/**
 * `npm run bench` (→ dist/bench.js): times a training step and KV-cache sampling of the reference model
 * (vocab 32, d_model 128, 4 heads, 2 layers, context 32; 64 sequences × 32 tokens = 2048 tokens per step;
 * sampling 64 sequences × 24 new tokens after an 8-token prompt) on every backend that loads here, and writes
 * tokens/s and achieved GFLOP/s to bench-results/<date>-<host>.json and .md, with the machine noted.
 *
 * Extensible: other modules add rows with `registerBenchCase({ name, run })` (import them below, one line each).
 * Usage: node dist/bench.js [--backends wasm,cpu] [--iters N] [--out DIR] [--cases a,b]
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeBackend, initBackend } from './backend';
import { GPT, type GPTConfig } from './model/gpt';
import { AdamW, clipByGlobalNorm } from './optim';
import { Rng } from './rng';
import { generate } from './sampling';
import { writeRolloutStepFiles } from '../runio/writer';
import { readRolloutStep, readRolloutStepIndex, readSampleArrays } from '../runio/reader';
import { TOKEN_ARRAYS } from '../shared/rolloutStep';
import { rlBenchCases } from './rl/bench';
import type { BenchCase } from './benchCase';

export const REFERENCE_MODEL: GPTConfig = { vocabSize: 32, contextLength: 32, dModel: 128, nHeads: 4, nLayers: 2 };
/** PyTorch on the 2-core development machine (numbers given in the issue) */
export const PYTORCH_REFERENCE_MS: Record<string, number> = { train_step: 80, sample_kv: 72 };

export type { BenchCase, BenchMeasurement } from './benchCase';

const cases: BenchCase[] = [];
export function registerBenchCase(c: BenchCase): void { cases.push(c); }

function median(xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; }

/** CPU milliseconds of the last timeIt call (median). */
export let lastCpuMs = NaN;
/** Time `f` (synchronous, reads results back so the work is done) `iters` times after one warm-up. Wall ms per run. */
export function timeIt(f: () => void, iters: number): number[] {
  f();
  const out: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < iters; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    f();
    out.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  lastCpuMs = median(cpu);
  return out;
}

registerBenchCase({
  name: 'train_step',
  description: 'forward + backward + AdamW, 64 × 32 tokens, reference model',
  run({ iters }) {
    const m = GPT.create(REFERENCE_MODEL, 1);
    const opt = new AdamW(m.trainableVariables(), { weightDecay: 0.01 });
    const rng = new Rng(1);
    const B = 64, T = 32;
    const ids = tf.tensor2d(Array.from({ length: B }, () => Array.from({ length: T }, () => 3 + rng.int(29))), [B, T], 'int32');
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(m.tokenLogprobs(ids).logprobs)) as tf.Scalar, m.trainableVariables());
      const { grads: g2 } = clipByGlobalNorm(grads, 1);
      opt.apply(g2, 1e-3);
      value.dataSync();
      tf.dispose([value, ...Object.values(grads), ...Object.values(g2)]);
    };
    const all = timeIt(step, iters);
    const flops = 3 * m.flopsPerToken(T) * B * T;
    tf.dispose(ids); opt.dispose(); m.dispose();
    return { ms: median(all), cpuMs: lastCpuMs, tokens: B * T, flops, all };
  },
});

registerBenchCase({
  name: 'sample_kv',
  description: 'KV-cache sampling, 64 sequences × 24 new tokens after 8 prompt tokens, temperature 1',
  run({ iters }) {
    const m = GPT.create(REFERENCE_MODEL, 2);
    const rng = new Rng(2);
    const B = 64, P = 8, N = 24;
    const prompts = Array.from({ length: B }, () => [1, ...Array.from({ length: P - 1 }, () => 3 + rng.int(29))]);
    const run = () => { generate(m, prompts, { maxNewTokens: N, temperature: 1, rng, stopAtEos: false }); };
    const all = timeIt(run, iters);
    let flops = 0;
    for (let t = 0; t < N; t++) flops += m.flopsPerToken(P + t) * B; // each new token attends to P + t keys
    flops += m.flopsPerToken(P) * B * P; // prefill
    m.dispose();
    return { ms: median(all), cpuMs: lastCpuMs, tokens: B * N, flops, all };
  },
});

// ---- online RL: one full step per algorithm family (src/trainer/rl/bench.ts, owned by the RL algorithms)
for (const c of rlBenchCases()) registerBenchCase(c);

export interface BenchRow { backend: string; backendInfo: string; case: string; description: string; ms: number; cpuMs?: number; tokensPerSec: number; gflops: number; pytorchMs?: number; vsPytorch?: string; note?: string }

export function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  let load: number[] = [];
  try { load = os.loadavg(); } catch { /* windows */ }
  return { host: os.hostname(), cpuModel: cpus[0]?.model, cores: cpus.length, memoryGB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.arch()}`, node: process.version, tfjs: tf.version_core, loadavg: load.map((x) => Math.round(x * 100) / 100) };
}

export function markdownTable(rows: BenchRow[], m: Record<string, unknown>): string {
  const head = `Machine: ${m.cpuModel} (${m.cores} cores), ${m.platform}, node ${m.node}, tfjs ${m.tfjs}, load average at start ${(m.loadavg as number[]).join(' ')}\n\n` +
    '| backend | case | wall ms (median) | CPU ms (median) | tokens/s (wall) | GFLOP/s (wall) | GFLOP/s (CPU time) | PyTorch ms | × PyTorch (wall) | × PyTorch (CPU) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n';
  return head + rows.map((r) => {
    const gcpu = r.cpuMs ? (r.gflops * r.ms) / r.cpuMs : NaN;
    return `| ${r.backendInfo} | ${r.case} | ${r.ms.toFixed(1)} | ${r.cpuMs?.toFixed(1) ?? ''} | ${Math.round(r.tokensPerSec)} | ${r.gflops.toFixed(2)} | ${Number.isFinite(gcpu) ? gcpu.toFixed(2) : ''} | ${r.pytorchMs ?? ''} | ${r.vsPytorch ?? ''} | ${r.pytorchMs && r.cpuMs ? `${(r.cpuMs / r.pytorchMs).toFixed(2)}×` : ''} |`;
  }).join('\n') + '\n';
}

export async function runBench(argv: string[]): Promise<{ rows: BenchRow[]; file: string }> {
  const arg = (k: string) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : undefined; };
  const backends = (arg('--backends') ?? 'tensorflow-gpu,tensorflow,wasm,cpu').split(',');
  const iters = Number(arg('--iters') ?? 5);
  const only = arg('--cases')?.split(',');
  const outDir = path.resolve(arg('--out') ?? 'bench-results');
  const m = machine();
  const rows: BenchRow[] = [];
  for (const b of backends) {
    let info;
    try { info = await initBackend(b); } catch (e) { process.stderr.write(`[bench] ${b}: not available (${(e as Error).message.split(';')[0]})\n`); continue; }
    const label = describeBackend(info).replace(/^backend /, '').replace(/ \(requested.*?\)/, '');
    for (const c of cases) {
      if (only && !only.includes(c.name)) continue;
      // the pure-JS cpu backend is ~30× slower: fewer iterations
      const n = b === 'cpu' ? Math.max(1, Math.min(iters, 2)) : iters;
      process.stderr.write(`[bench] ${b} ${c.name} (${n} iterations)...\n`);
      const r = await c.run({ iters: n, backend: b });
      const py = PYTORCH_REFERENCE_MS[c.name];
      const row: BenchRow = { backend: b, backendInfo: label, case: c.name, description: c.description, ms: r.ms, cpuMs: r.cpuMs, tokensPerSec: r.tokens / (r.ms / 1000), gflops: r.flops / (r.ms / 1000) / 1e9, pytorchMs: py, vsPytorch: py ? `${(r.ms / py).toFixed(2)}×` : undefined, note: r.note };
      rows.push(row);
      process.stderr.write(`[bench] ${b} ${c.name}: ${r.ms.toFixed(1)} ms (CPU ${r.cpuMs?.toFixed(1)} ms), ${Math.round(row.tokensPerSec)} tokens/s, ${row.gflops.toFixed(2)} GFLOP/s${py ? `, PyTorch ${py} ms (${row.vsPytorch})` : ''}\n`);
    }
  }
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().slice(0, 10);
  const base = path.join(outDir, `${stamp}-${os.hostname().replace(/[^A-Za-z0-9_.-]/g, '_')}`);
  fs.writeFileSync(`${base}.json`, JSON.stringify({ date: new Date().toISOString(), machine: m, referenceModel: REFERENCE_MODEL, pytorchReferenceMs: PYTORCH_REFERENCE_MS, rows }, null, 2) + '\n');
  fs.writeFileSync(`${base}.md`, markdownTable(rows, m));
  return { rows, file: `${base}.json` };
}

/**
 * Storage benchmark of the per-token layout (rollouts/step_X.jsonl + .f32): writes ~`mb` MB of per-token arrays
 * (512 samples × 13 arrays × 256 tokens per step), then reads it back three ways. Run: node dist/bench.js --storage 1024
 */
export function storageBench(mb: number, dir: string): Record<string, number> {
  const S = 512, L = 256, arrays = [...TOKEN_ARRAYS];
  const bytesPerStep = S * L * arrays.length * 4;
  const steps = Math.max(1, Math.round((mb * 2 ** 20) / bytesPerStep));
  const rdir = path.join(dir, 'rollouts');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(rdir, { recursive: true });
  const toks = Array.from({ length: L }, (_, i) => String.fromCharCode(97 + (i % 26)));
  const samples = Array.from({ length: S }, (_, i) => ({ group: `g${i >> 3}`, prompt: '12+34=', completion: toks.join(''), tokens: toks, reward: 1, length: L }));
  const arr = Array.from({ length: S }, () => Object.fromEntries(arrays.map((a) => [a, Float32Array.from({ length: L }, (_, t) => Math.sin(t))])));
  const groups = Array.from({ length: S / 8 }, (_, g) => ({ id: `g${g}`, prompt: '12+34=', samples: Array.from({ length: 8 }, (_, k) => g * 8 + k), rewards: Array(8).fill(1), mean: 1, std: 0 }));
  let t = performance.now();
  for (let s = 1; s <= steps; s++) writeRolloutStepFiles(rdir, { step: s, arrays, groups }, samples, arr);
  const writeS = (performance.now() - t) / 1000;
  let total = 0;
  for (const f of fs.readdirSync(rdir)) total += fs.statSync(path.join(rdir, f)).size;
  // 1. open a step: header + sample lines (what the heatmap needs first)
  t = performance.now();
  readRolloutStepIndex(dir, Math.ceil(steps / 2));
  const openStepMs = performance.now() - t;
  // 2. one sample's arrays with one positioned read (hover / drill-down), 200 random samples over all steps
  t = performance.now();
  const rng = new Rng(1);
  const cache = new Map<number, ReturnType<typeof readRolloutStepIndex>>();
  for (let i = 0; i < 200; i++) {
    const s = 1 + rng.int(steps);
    let r = cache.get(s);
    if (!r) { r = readRolloutStepIndex(dir, s); cache.set(s, r); }
    readSampleArrays(dir, r.header, r.samples[rng.int(S)]);
  }
  const randomSampleMs = (performance.now() - t) / 200;
  // 3. every step's full .f32 (sequential scan, e.g. a doctor check over all tokens)
  t = performance.now();
  let n = 0;
  for (let s = 1; s <= steps; s++) n += readRolloutStep(dir, s).data.length;
  const scanS = (performance.now() - t) / 1000;
  fs.rmSync(dir, { recursive: true, force: true });
  return { steps, totalMB: total / 2 ** 20, writeS, writeMBps: total / 2 ** 20 / writeS, openStepMs, randomSampleMs, scanS, scanMBps: (n * 4) / 2 ** 20 / scanS };
}

if (require.main === module && process.argv.includes('--storage')) {
  const i = process.argv.indexOf('--storage');
  const mb = Number(process.argv[i + 1] ?? 1024);
  const r = storageBench(mb, path.join(os.tmpdir(), `rl-lens-storage-${process.pid}`));
  process.stdout.write(JSON.stringify({ machine: machine(), storage: r }, null, 2) + '\n');
} else if (require.main === module) {
  runBench(process.argv.slice(2)).then(({ rows, file }) => {
    process.stdout.write(markdownTable(rows, machine()));
    process.stdout.write(`\nwritten: ${file} (+ .md)\n`);
  }, (e) => { process.stderr.write(`bench: ${(e as Error).stack}\n`); process.exitCode = 1; });
}
