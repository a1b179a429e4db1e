/**
 * `npm run bench` (→ dist/bench.js): times a training step and KV-cache sampling of the reference model
 * (vocab 32, d_model 128, 4 heads, 2 layers, context 32; 64 sequences × 32 tokens = 2048 tokens per step;
 * sampling 64 sequences × 24 new tokens after an 8-token prompt), one RL step per algorithm family, and on real model
 * shapes (benchModels.ts): a stories260K GRPO step (64 completions × 128 tokens) and its KV sampling, and a
 * GPT-2-124M-shaped forward + backward on 4 × 128 tokens with peak memory. On every backend that loads here; writes
 * tokens/s and achieved GFLOP/s to bench-results/<date>-<host>.json and .md, with the machine (CPU, cores, load
 * average at the start and at every row) and the previous result file's numbers side by side.
 *
 * PyTorch: a case with a `torch()` request is also run by bench/torch_ref.py on the same shapes, in this same
 * invocation, right after the tfjs measurement, at 1 thread (the wasm backend is single-threaded in Node) and at all
 * cores (torchRef.ts finds the interpreter; without torch the row says it could not compare).
 *
 * Extensible: other modules add rows with `registerBenchCase({ name, run })` (import them below, one line each).
 * Usage: node dist/bench.js [--backends wasm,cpu] [--iters N] [--out DIR] [--cases a,b] [--stories DIR] [--no-torch]
 *        [--torch-threads 1,N]   (default: 1 and the number of cores)
 *        node dist/bench.js --profile-stories [--stories DIR]   per-kernel profile of the stories260K GRPO step's phases
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
import { gpt2Case, profileStoriesStep, storiesCases, storiesDir } from './benchModels';
import { blasName, findTorchPython, runTorch, type TorchResult } from './torchRef';
import type { BenchCase } from './benchCase';

export const REFERENCE_MODEL: GPTConfig = { vocabSize: 32, contextLength: 32, dModel: 128, nHeads: 4, nLayers: 2 };

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
  torch: () => ({ case: 'gpt_train_step', config: GPT.fullConfig(REFERENCE_MODEL), B: 64, T: 32, lr: 1e-3, weightDecay: 0.01 }),
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

// ---- real model shapes against PyTorch (benchModels.ts): stories260K GRPO step and sampling, GPT-2-124M fwd + bwd
const storiesArg = process.argv.indexOf('--stories');
for (const c of storiesCases(storiesDir(storiesArg >= 0 ? process.argv[storiesArg + 1] : undefined))) registerBenchCase(c);
registerBenchCase(gpt2Case());

/** PyTorch on the same shapes, same invocation: at 1 thread and at all cores. */
export interface TorchColumns { threads: number; ms?: number; cpuMs?: number; ratio?: number; phases?: Record<string, number>; memory?: Record<string, number>; reason?: string }

export interface BenchRow {
  backend: string; backendInfo: string; case: string; description: string; ms: number; cpuMs?: number; tokensPerSec: number; gflops: number; note?: string;
  /** 1-minute load average when the row was measured (2 cores shared with other work: read timings with it) */
  load1?: number;
  phases?: Record<string, number>;
  memory?: Record<string, number>;
  /** PyTorch at 1 thread and at all cores; ratio = our wall ms ÷ PyTorch's (< 1: we are faster) */
  torch?: TorchColumns[];
  /** the same backend and case in the previous result file */
  previousMs?: number;
}

export function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  let load: number[] = [];
  try { load = os.loadavg(); } catch { /* windows */ }
  return { host: os.hostname(), cpuModel: cpus[0]?.model, cores: cpus.length, memoryGB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.arch()}`, node: process.version, tfjs: tf.version_core, loadavg: load.map((x) => Math.round(x * 100) / 100) };
}

const f1 = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '' : x >= 100 ? x.toFixed(0) : x.toFixed(1));

export function markdownTable(rows: BenchRow[], m: Record<string, unknown>, extra: { torch?: Record<string, unknown>; previous?: { file: string; date: string } } = {}): string {
  const nAll = Math.max(1, ...rows.flatMap((r) => (r.torch ?? []).map((t) => t.threads)));
  let out = `Machine: ${m.cpuModel} (${m.cores} cores), ${m.platform}, node ${m.node}, tfjs ${m.tfjs}, load average at start ${(m.loadavg as number[]).join(' ')}\n`;
  if (extra.torch) out += `PyTorch: ${extra.torch.available ? `${extra.torch.torch} (${extra.torch.python}, BLAS: ${extra.torch.blas}), float32 CPU, bench/torch_ref.py on the same shapes, run right after each tfjs row` : `could not compare (${extra.torch.reason})`}\n`;
  if (extra.previous) out += `Previous: ${extra.previous.file} (${extra.previous.date.slice(0, 10)})\n`;
  out += '\nRatios are ours ÷ PyTorch (below 1: we are faster), by wall time and by process CPU time (CPU time is the fairer one when other work shares the cores; at 1 thread both should agree on an idle machine).\n';
  const many = nAll > 1;
  out += '\n| backend | case | wall ms (median) | CPU ms (median) | tokens/s (wall) | GFLOP/s (wall) | PyTorch 1 thread wall / CPU ms | ours ÷ PyTorch 1 thread (wall / CPU) |' + (many ? ` PyTorch ${nAll} threads wall / CPU ms | ours ÷ PyTorch ${nAll} threads (wall / CPU) |` : '') + ' previous ms | load (1 min) |\n|---|---|---:|---:|---:|---:|---:|---:|' + (many ? '---:|---:|' : '') + '---:|---:|\n';
  out += rows.map((r) => {
    const t1 = r.torch?.find((t) => t.threads === 1), tn = r.torch?.find((t) => t.threads === nAll && nAll > 1);
    const cell = (t?: TorchColumns) => (t?.ms !== undefined
      ? [`${f1(t.ms)} / ${f1(t.cpuMs)}`, t.ratio !== undefined ? `${t.ratio.toFixed(2)}× / ${r.cpuMs && t.cpuMs ? (r.cpuMs / t.cpuMs).toFixed(2) : '?'}×` : 'ours failed']
      : [t?.reason ? 'could not compare' : '–', '']);
    return `| ${r.backendInfo} | ${r.case} | ${Number.isFinite(r.ms) ? f1(r.ms) : 'failed'} | ${f1(r.cpuMs)} | ${Number.isFinite(r.tokensPerSec) ? Math.round(r.tokensPerSec) : ''} | ${Number.isFinite(r.gflops) ? r.gflops.toFixed(2) : ''} | ${cell(t1).join(' | ')} |${many ? ` ${cell(tn).join(' | ')} |` : ''} ${f1(r.previousMs)} | ${r.load1 ?? ''} |`;
  }).join('\n') + '\n';
  const notes: string[] = [];
  for (const r of rows) {
    const bits: string[] = [];
    if (r.phases) bits.push(`phases (ms): ours ${Object.entries(r.phases).map(([k, v]) => `${k} ${f1(v)}`).join(', ')}${(r.torch ?? []).filter((t) => t.phases).map((t) => `; PyTorch ${t.threads} thread${t.threads > 1 ? 's' : ''} ${Object.entries(t.phases!).map(([k, v]) => `${k} ${f1(v)}`).join(', ')}`).join('')}`);
    if (r.memory) bits.push(`memory (MiB): ours ${Object.entries(r.memory).map(([k, v]) => `${k} ${v}`).join(', ')}${(r.torch ?? []).filter((t) => t.memory).map((t) => `; PyTorch ${t.threads} thread${t.threads > 1 ? 's' : ''} ${Object.entries(t.memory!).map(([k, v]) => `${k} ${v}`).join(', ')}`).join('')}`);
    if (r.note) bits.push(r.note);
    const why = (r.torch ?? []).find((t) => t.reason)?.reason;
    if (why) bits.push(`PyTorch: could not compare (${why})`);
    if (bits.length) notes.push(`- ${r.backend} ${r.case}: ${bits.join('; ')}`);
  }
  return out + (notes.length ? `\n${notes.join('\n')}\n` : '');
}

/** The newest earlier result file of this bench (bench-results/<date>-<host>.json, not host.json / webview.json). */
function previousResults(outDir: string, exclude: string): { file: string; date: string; rows: BenchRow[] } | undefined {
  if (!fs.existsSync(outDir)) return undefined;
  const files = fs.readdirSync(outDir).filter((f) => /^\d{4}-\d{2}-\d{2}-.*\.json$/.test(f) && path.join(outDir, f) !== exclude);
  let best: { file: string; date: string; rows: BenchRow[] } | undefined;
  for (const f of files) {
    try {
      const j = JSON.parse(fs.readFileSync(path.join(outDir, f), 'utf8'));
      if (Array.isArray(j.rows) && typeof j.date === 'string' && (!best || j.date > best.date)) best = { file: f, date: j.date, rows: j.rows };
    } catch { /* not a result file */ }
  }
  return best;
}

export async function runBench(argv: string[]): Promise<{ rows: BenchRow[]; file: string }> {
  const arg = (k: string) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : undefined; };
  const backends = (arg('--backends') ?? 'tensorflow-gpu,tensorflow,wasm,cpu').split(',');
  const iters = Number(arg('--iters') ?? 5);
  const only = arg('--cases')?.split(',');
  const outDir = path.resolve(arg('--out') ?? 'bench-results');
  const withTorch = !argv.includes('--no-torch');
  const m = machine();
  const stamp = new Date().toISOString().slice(0, 10);
  const base = path.join(outDir, `${stamp}-${os.hostname().replace(/[^A-Za-z0-9_.-]/g, '_')}`);
  const prev = previousResults(outDir, `${base}.json`);
  const py = withTorch ? findTorchPython() : { reason: 'skipped (--no-torch)' };
  const torchThreads = [...new Set((arg('--torch-threads') ?? `1,${os.cpus().length}`).split(',').map(Number).filter((n) => n >= 1))];
  const torchCache = new Map<string, TorchColumns[]>();
  let torchInfo: Record<string, unknown> = { available: false, reason: py.reason };
  const rows: BenchRow[] = [];
  for (const b of backends) {
    let info;
    try { info = await initBackend(b); } catch (e) { process.stderr.write(`[bench] ${b}: not available (${(e as Error).message.split(';')[0]})\n`); continue; }
    const label = describeBackend(info).replace(/^backend /, '').replace(/ \(requested.*?\)/, '');
    for (const c of cases) {
      if (only && !only.includes(c.name)) continue;
      // the pure-JS cpu backend is ~30× slower: fewer iterations, and not the big models
      if (b === 'cpu' && /^(stories_|gpt2_)/.test(c.name)) continue;
      const n = b === 'cpu' ? Math.max(1, Math.min(iters, 2)) : /^gpt2_/.test(c.name) ? Math.max(1, Math.min(iters, 2)) : iters;
      process.stderr.write(`[bench] ${b} ${c.name} (${n} iterations)...\n`);
      const load1 = Math.round(os.loadavg()[0] * 100) / 100;
      const r = await c.run({ iters: n, backend: b });
      const row: BenchRow = { backend: b, backendInfo: label, case: c.name, description: c.description, ms: r.ms, cpuMs: r.cpuMs, tokensPerSec: r.tokens / (r.ms / 1000), gflops: r.flops / (r.ms / 1000) / 1e9, note: r.note, load1, phases: r.phases, memory: r.memory };
      const p = prev?.rows.find((x) => x.backend === b && x.case === c.name);
      if (p) row.previousMs = p.ms;
      // PyTorch on the same shapes, right after (once per case: the same numbers for every backend's row)
      if (c.torch && !/^skipped/.test(r.note ?? '')) {
        let t = torchCache.get(c.name);
        if (!t) {
          const req = py.python ? await c.torch() : undefined;
          t = torchThreads.map((threads): TorchColumns => {
            if (!py.python) return { threads, reason: py.reason };
            if (!req) return { threads, reason: 'no request (model files missing?)' };
            process.stderr.write(`[bench] PyTorch ${c.name} at ${threads} thread${threads > 1 ? 's' : ''}...\n`);
            const tr: TorchResult = runTorch({ ...req, iters: n }, threads);
            if (!tr.ok) return { threads, reason: tr.reason };
            torchInfo = { available: true, python: tr.python, torch: tr.torch, blas: blasName(tr.blas), blasLibraries: tr.blas };
            return { threads, ms: tr.ms, cpuMs: tr.cpuMs, phases: tr.phases, memory: tr.memory };
          });
          torchCache.set(c.name, t);
        }
        row.torch = t.map((x) => (x.ms !== undefined && Number.isFinite(r.ms) ? { ...x, ratio: r.ms / x.ms } : x));
      }
      rows.push(row);
      const tt = (row.torch ?? []).map((x) => (x.ms !== undefined ? `PyTorch ${x.threads}t ${x.ms.toFixed(1)} ms, CPU ${x.cpuMs?.toFixed(1)} ms${x.ratio !== undefined ? ` (ours ${x.ratio.toFixed(2)}× wall, ${r.cpuMs && x.cpuMs ? (r.cpuMs / x.cpuMs).toFixed(2) : '?'}× CPU)` : ''}` : `PyTorch ${x.threads}t: could not compare (${x.reason})`)).join(', ');
      process.stderr.write(`[bench] ${b} ${c.name}: ${r.ms.toFixed(1)} ms (CPU ${r.cpuMs?.toFixed(1)} ms), ${Math.round(row.tokensPerSec)} tokens/s, ${row.gflops.toFixed(2)} GFLOP/s, load ${load1}${tt ? `; ${tt}` : ''}\n`);
    }
  }
  fs.mkdirSync(outDir, { recursive: true });
  const previous = prev ? { file: prev.file, date: prev.date } : undefined;
  const mEnd = { ...m, loadavgAtEnd: os.loadavg().map((x) => Math.round(x * 100) / 100) };
  fs.writeFileSync(`${base}.json`, JSON.stringify({ date: new Date().toISOString(), machine: mEnd, referenceModel: REFERENCE_MODEL, pytorch: torchInfo, previous, rows }, null, 2) + '\n');
  fs.writeFileSync(`${base}.md`, markdownTable(rows, m, { torch: torchInfo, previous }));
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

if (require.main === module && process.argv.includes('--profile-stories')) {
  // per-kernel profile of the stories260K GRPO step on wasm (benchModels.ts profileStoriesStep)
  const i = process.argv.indexOf('--stories');
  initBackend(process.argv.includes('--backends') ? process.argv[process.argv.indexOf('--backends') + 1] : 'wasm')
    .then(() => profileStoriesStep(storiesDir(i >= 0 ? process.argv[i + 1] : undefined)))
    .then((md) => { process.stdout.write(`Machine: ${JSON.stringify(machine())}\n\n${md}`); }, (e) => { process.stderr.write(`bench: ${(e as Error).stack}\n`); process.exitCode = 1; });
} else if (require.main === module && process.argv.includes('--storage')) {
  const i = process.argv.indexOf('--storage');
  const mb = Number(process.argv[i + 1] ?? 1024);
  const r = storageBench(mb, path.join(os.tmpdir(), `rl-lens-storage-${process.pid}`));
  process.stdout.write(JSON.stringify({ machine: machine(), storage: r }, null, 2) + '\n');
} else if (require.main === module) {
  runBench(process.argv.slice(2)).then(({ file }) => {
    process.stdout.write(fs.readFileSync(file.replace(/\.json$/, '.md'), 'utf8'));
    process.stdout.write(`\nwritten: ${file} (+ .md)\n`);
  }, (e) => { process.stderr.write(`bench: ${(e as Error).stack}\n`); process.exitCode = 1; });
}
