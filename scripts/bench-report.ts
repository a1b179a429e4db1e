/**
 * Times `rl-lens report` on a synthetic ~100M-parameter checkpoint pair (GPT-2-small-like shapes, d_model 768,
 * 14 layers, vocab 32): weights statistics + relative change (generations off: a 100M model does not run in tfjs here).
 *   npx tsx scripts/bench-report.ts [--layers 14] [--keep DIR]
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { encodeSafetensors, type NamedWeights } from '../src/trainer/checkpoint';
import { run as report } from '../src/cli/report';

const args = process.argv.slice(2);
const layers = Number(args[args.indexOf('--layers') + 1]) || 14;
const D = 768, V = 32, T = 1024;
function rand(n: number, seed: number, scale = 0.02): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; a[i] = ((s / 4294967296) - 0.5) * 2 * scale; }
  return a;
}
function weights(seed: number): NamedWeights {
  const w: NamedWeights = {};
  const add = (name: string, shape: number[]) => { w[name] = { shape, data: rand(shape.reduce((x, y) => x * y, 1), seed + Object.keys(w).length) }; };
  add('wte.weight', [V, D]); add('wpe.weight', [T, D]);
  for (let l = 0; l < layers; l++) {
    add(`h.${l}.ln_1.weight`, [D]); add(`h.${l}.ln_1.bias`, [D]);
    add(`h.${l}.attn.c_attn.weight`, [D, 3 * D]); add(`h.${l}.attn.c_attn.bias`, [3 * D]);
    add(`h.${l}.attn.c_proj.weight`, [D, D]); add(`h.${l}.attn.c_proj.bias`, [D]);
    add(`h.${l}.ln_2.weight`, [D]); add(`h.${l}.ln_2.bias`, [D]);
    add(`h.${l}.mlp.c_fc.weight`, [D, 4 * D]); add(`h.${l}.mlp.c_fc.bias`, [4 * D]);
    add(`h.${l}.mlp.c_proj.weight`, [4 * D, D]); add(`h.${l}.mlp.c_proj.bias`, [D]);
  }
  add('ln_f.weight', [D]); add('ln_f.bias', [D]); add('lm_head.weight', [D, V]);
  return w;
}
async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-report-bench-'));
  let params = 0;
  for (const [name, seed] of [['step_00000001', 1], ['step_00000002', 2]] as const) {
    const dir = path.join(root, 'checkpoints', name);
    fs.mkdirSync(dir, { recursive: true });
    const w = weights(seed);
    params = Object.values(w).reduce((s, x) => s + x.data.length, 0);
    fs.writeFileSync(path.join(dir, 'model.safetensors'), encodeSafetensors(w));
    fs.writeFileSync(path.join(dir, 'checkpoint.json'), JSON.stringify({ format: 'rl-lens-checkpoint', formatVersion: 1, step: seed, algorithm: 'synthetic', time: new Date().toISOString(), config: {}, tokenizer: { type: 'char', vocab: [], bos: 1, eos: 2, pad: 0 }, model: { parameters: params } }));
  }
  const a = path.join(root, 'checkpoints', 'step_00000001'), b = path.join(root, 'checkpoints', 'step_00000002');
  console.log(`synthetic checkpoints: ${params} parameters, ${(fs.statSync(path.join(a, 'model.safetensors')).size / 2 ** 20).toFixed(0)} MiB each, ${os.cpus().length} CPUs`);
  let t0 = Date.now();
  const cpu0 = process.cpuUsage();
  let code = await report([b, '--base', a, '--no-generations', '--out', path.join(root, 'report.txt'), '--no-cache']);
  const cold = Date.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = Math.round((cpu.user + cpu.system) / 1000);
  t0 = Date.now();
  code = code || await report([b, '--base', a, '--no-generations', '--out', path.join(root, 'report.txt')]);
  const warm = Date.now() - t0;
  const text = fs.readFileSync(path.join(root, 'report.txt'), 'utf8');
  console.log(`report (stats + relative change): ${cold} ms wall, ${cpuMs} ms CPU (load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs); from the cache: ${warm} ms; ${text.split('\n').length} lines; exit ${code}`);
  if (!args.includes('--keep')) fs.rmSync(root, { recursive: true, force: true }); else console.log(`kept ${root}`);
}
void main();
