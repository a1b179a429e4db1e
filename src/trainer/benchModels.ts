/**
 * Benchmark cases on real model shapes, each compared with PyTorch on the same shapes in the same invocation
 * (bench/torch_ref.py, run by torchRef.ts when an interpreter that can `import torch` is found):
 *
 *   stories_grpo_step  one full GRPO step (rlStep) on stories260K (Llama 2 arch, 260k parameters, read in place from
 *                      ../shared/models/stories260K): 8 prompts × G 8 = 64 completions × 128 new tokens after 8-token
 *                      prompts (KV-cache sampling at temperature 1, no EOS stop: every row is 128 tokens), old + ref
 *                      log-probs over [64, 136], group advantages, one update (policy log-probs with gradients, ratio,
 *                      clipped loss, k3 KL to the reference in the loss, backward, clip-by-global-norm, AdamW).
 *   stories_sample_kv  the step's sampling alone: 64 × 128 new tokens with the KV cache.
 *   gpt2_fwd_bwd       a GPT-2-124M-shaped model (12 layers, d 768, 12 heads, vocab 50257, context 128; random init;
 *                      this GPT has an untied lm_head, so 163M parameters) forward + backward of the mean next-token
 *                      NLL on 4 × 128 tokens, with peak memory.
 *
 * The prompts are the last 7 tokens of the stories task's first prompts, after BOS: the torch side gets the same ids.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as fs from 'fs';
import * as path from 'path';
import type { BenchCase, BenchMeasurement } from './benchCase';
import { GPT, type GPTConfig } from './model/gpt';
import { Llama } from './model/llama';
import { loadPretrained } from './model/pretrained';
import { AdamW } from './optim';
import { Rng } from './rng';
import { resolveRlConfig } from './rl/config';
import { rlStep } from './rl/step';
import type { RlTask, RlTokenizer } from './rl/types';
import { generate } from './sampling';
import { storiesReward, storyPrompts, type StoriesItem } from './tasks/stories';
import type { TextTokenizer } from './tokenizers';

export const STORIES = { prompts: 8, group: 8, promptTokens: 8, newTokens: 128, lr: 1e-4, temperature: 1 } as const;
export const GPT2_124M: GPTConfig = { vocabSize: 50257, contextLength: 128, dModel: 768, nHeads: 12, nLayers: 12 };
export const GPT2_BATCH = { B: 4, T: 128 } as const;

/** Where stories260K is read from: --stories DIR, RL_LENS_STORIES, else ../shared/models/stories260K beside the repo. */
export function storiesDir(argDir?: string): string {
  return path.resolve(argDir ?? process.env.RL_LENS_STORIES ?? path.join(process.cwd(), '..', 'shared', 'models', 'stories260K'));
}

function median(xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; }

/** The benchmark's stories setup: model, frozen reference, fixed 8-token prompts, a task and a tokenizer that never stops early. */
export interface StoriesSetup {
  policy: Llama;
  ref: Llama;
  /** [prompts][8] token ids (BOS first) */
  promptIds: number[][];
  task: RlTask;
  tok: RlTokenizer;
  dispose(): void;
}

export async function storiesSetup(dir: string): Promise<StoriesSetup> {
  const p = await loadPretrained(dir);
  if (!(p.model instanceof Llama)) throw new Error(`${dir}: expected a llama-family model`);
  const policy = p.model as Llama;
  const ref = policy.clone(false);
  const real: TextTokenizer = p.tokenizer;
  // prompts 0, 90, 180, ...: different names / creatures / words; their last 7 tokens after BOS
  const all = storyPrompts();
  const items: StoriesItem[] = [];
  const promptIds: number[][] = [];
  const byText = new Map<string, number[]>();
  for (let i = 0; i < STORIES.prompts; i++) {
    const it = all[(i * 97) % all.length];
    const enc = real.encode(it.prompt, { bos: false });
    const ids = [real.bos ?? 1, ...enc.slice(enc.length - (STORIES.promptTokens - 1))];
    const text = `#${i} ${real.decode(ids)}`;
    items.push({ ...it, prompt: text });
    promptIds.push(ids);
    byText.set(text, ids);
  }
  let next = 0;
  const task: RlTask = {
    name: 'bench-stories',
    sampleTrain: () => items[next++ % items.length],
    evalItems: () => [],
    reward: (item, completion, finished) => storiesReward(item as StoriesItem, completion, finished),
  };
  // eos −1: no row stops early, so every completion has exactly 128 tokens (the torch side samples the same shape)
  const tok: RlTokenizer = {
    encode: (text) => { const ids = byText.get(text); if (!ids) throw new Error(`bench: unknown prompt ${text}`); return ids.slice(); },
    decode: (ids) => real.decode(ids), display: (ids) => real.display(ids), eos: -1, pad: real.pad, bos: real.bos,
  };
  return { policy, ref, promptIds, task, tok, dispose: () => { policy.dispose(); ref.dispose(); } };
}

/** Model FLOPs of one GRPO step (Kaplan convention): sampling forward per token, old + ref forwards, update 3× forward. */
export function storiesStepFlops(m: Llama): { sample: number; step: number } {
  const B = STORIES.prompts * STORIES.group, P = STORIES.promptTokens, N = STORIES.newTokens, T = P + N;
  let sample = m.flopsPerToken(P) * B * P;
  for (let t = 1; t < N; t++) sample += m.flopsPerToken(P + t) * B;
  const fwd = m.flopsPerToken(T) * B * T;
  return { sample, step: sample + 2 * fwd + 3 * fwd };
}

export function storiesCases(dir: string): BenchCase[] {
  const missing = !fs.existsSync(dir) ? `${dir} not found (pass --stories DIR or set RL_LENS_STORIES)` : undefined;
  const B = STORIES.prompts * STORIES.group;
  const skip = (): BenchMeasurement => ({ ms: NaN, tokens: 0, flops: 0, note: `skipped: ${missing}` });
  return [
    {
      name: 'stories_sample_kv',
      description: `stories260K KV-cache sampling: ${B} completions × ${STORIES.newTokens} new tokens after ${STORIES.promptTokens}-token prompts, temperature 1`,
      async run({ iters }) {
        if (missing) return skip();
        const s = await storiesSetup(dir);
        const rows = s.promptIds.flatMap((p) => Array.from({ length: STORIES.group }, () => p));
        const rng = new Rng(11);
        const times: number[] = [], cpu: number[] = [];
        for (let i = 0; i <= iters; i++) {
          const c = process.cpuUsage(), t = performance.now();
          const g = generate(s.policy, rows, { maxNewTokens: STORIES.newTokens, temperature: 1, rng, eos: -1, pad: 0, banned: [0, 1] });
          const dt = performance.now() - t, d = process.cpuUsage(c);
          if (g.responseLength !== STORIES.newTokens) throw new Error(`bench: sampled ${g.responseLength} tokens`);
          if (i > 0) { times.push(dt); cpu.push((d.user + d.system) / 1000); }
        }
        const flops = storiesStepFlops(s.policy).sample;
        s.dispose();
        return { ms: median(times), cpuMs: median(cpu), tokens: B * STORIES.newTokens, flops, all: times };
      },
      torch: () => storiesTorchRequest(dir, 'stories_sample_kv'),
    },
    {
      name: 'stories_grpo_step',
      description: `stories260K GRPO step (rlStep): ${STORIES.prompts} prompts × G ${STORIES.group} = ${B} completions × ${STORIES.newTokens} tokens sampled + old/ref log-probs + update (k3 KL in the loss, AdamW)`,
      async run({ iters }) {
        if (missing) return skip();
        const s = await storiesSetup(dir);
        const cfg = resolveRlConfig('grpo', { promptsPerStep: STORIES.prompts, groupSize: STORIES.group, maxNewTokens: STORIES.newTokens, temperature: STORIES.temperature, eval: { every: 0 } });
        const opt = new AdamW(s.policy.trainableVariables());
        const st = { step: 1, lr: STORIES.lr, klCoef: cfg.kl.coef, optimizer: opt };
        const rng = new Rng(9);
        const times: number[] = [], cpu: number[] = [];
        const phases: Record<'sample' | 'old_ref' | 'update', number[]> = { sample: [], old_ref: [], update: [] };
        let tensors = 0;
        for (let i = 0; i <= iters; i++) {
          const c = process.cpuUsage(), t = performance.now();
          const r = rlStep('grpo', cfg, st, s.policy, s.ref, undefined, s.task, s.tok, rng);
          const dt = performance.now() - t, d = process.cpuUsage(c);
          if (r.metrics['tokens/generated'] !== B * STORIES.newTokens) throw new Error(`bench: generated ${r.metrics['tokens/generated']} tokens`);
          if (i > 0) {
            times.push(dt); cpu.push((d.user + d.system) / 1000);
            phases.sample.push(Number(r.metrics['timing/gen_s']) * 1000);
            phases.old_ref.push(Number(r.metrics['timing/prepare_s']) * 1000);
            phases.update.push(Number(r.metrics['timing/update_s']) * 1000);
          }
          tensors = tf.memory().numTensors;
        }
        const flops = storiesStepFlops(s.policy).step;
        opt.dispose();
        s.dispose();
        return {
          ms: median(times), cpuMs: median(cpu), tokens: B * (STORIES.promptTokens + STORIES.newTokens), flops, all: times,
          phases: { sample: median(phases.sample), old_ref: median(phases.old_ref), update: median(phases.update) }, note: `${tensors} tensors after the step`,
        };
      },
      torch: () => storiesTorchRequest(dir, 'stories_grpo_step'),
    },
  ];
}

/** bench/torch_ref.py's request for a stories case: the same prompt ids, shapes and GRPO settings as the TS side. */
async function storiesTorchRequest(dir: string, name: string): Promise<Record<string, unknown> | undefined> {
  if (!fs.existsSync(dir)) return undefined;
  const s = await storiesSetup(dir);
  const cfg = resolveRlConfig('grpo', { promptsPerStep: STORIES.prompts, groupSize: STORIES.group, maxNewTokens: STORIES.newTokens });
  const bin = fs.readdirSync(dir).find((f) => f.endsWith('.bin') && !/^tok/.test(f));
  const req = {
    case: name, model: path.join(dir, bin ?? 'stories260K.bin'), prompts: s.promptIds, group: STORIES.group, newTokens: STORIES.newTokens,
    banned: [s.tok.pad ?? 0, s.tok.bos ?? 1], temperature: STORIES.temperature, lr: STORIES.lr,
    klCoef: cfg.kl.coef, clipLow: cfg.clipLow, clipHigh: cfg.clipHigh, gradClip: cfg.gradClip,
  };
  s.dispose();
  return req;
}

/** Bytes → MiB, one decimal. */
const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;

export function gpt2Case(): BenchCase {
  const { B, T } = GPT2_BATCH;
  return {
    name: 'gpt2_fwd_bwd',
    description: `GPT-2-124M shapes (12 layers, d 768, 12 heads, vocab 50257, untied lm_head: 163M parameters), random init: forward + backward of the mean NLL on ${B} × ${T} tokens`,
    async run({ iters }) {
      const rss0 = process.memoryUsage().rss;
      const m = GPT.create(GPT2_124M, 1);
      const rng = new Rng(3);
      const ids = tf.tensor2d(Array.from({ length: B }, () => Array.from({ length: T }, () => rng.int(GPT2_124M.vocabSize))), [B, T], 'int32');
      const vars = m.trainableVariables();
      const bytes0 = tf.memory().numBytes;
      const rssModel = process.memoryUsage().rss;
      let rssPeak = rssModel;
      const step = () => {
        const { value, grads } = tf.variableGrads(() => tf.neg(tf.mean(m.tokenLogprobs(ids).logprobs)) as tf.Scalar, vars);
        value.dataSync();
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
        tf.dispose([value, ...Object.values(grads)]);
      };
      // a first run (the warm-up; a failure here is caught: under tf.profile a kernel's error surfaces as an unhandled
      // rejection), then one under tf.profile for the engine's peak of live tensor bytes
      let peakBytes: number;
      try {
        step();
        peakBytes = (await tf.profile(() => { step(); })).peakBytes;
      } catch (e) {
        // tfjs-backend-wasm's heap is 32-bit (4 GiB at most, and XNNPACK's packed weight copies live there too):
        // report the failure and the memory at that point instead of ending the benchmark
        const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.length;
        const live = tf.memory().numBytes;
        return {
          ms: NaN, tokens: B * T, flops: 3 * m.flopsPerToken(T) * B * T,
          memory: { parameters: m.parameterCount(), weightsMiB: mib(bytes0), liveTensorsAtFailureMiB: mib(live), ...(heap ? { wasmHeapAtFailureMiB: mib(heap) } : {}), rssPeakMiB: mib(process.resourceUsage().maxRSS * 1024) } as Record<string, number>,
          note: `failed: ${(e as Error).message.split('\n')[0]} (${tf.getBackend()}; live tensors ${mib(live)} MiB${heap ? `, wasm heap ${mib(heap)} MiB of at most 4096` : ''} when it failed)`,
        };
      }
      const times: number[] = [], cpu: number[] = [];
      for (let i = 0; i < iters; i++) {
        const c = process.cpuUsage(), t = performance.now();
        step();
        times.push(performance.now() - t);
        const d = process.cpuUsage(c);
        cpu.push((d.user + d.system) / 1000);
      }
      const flops = 3 * m.flopsPerToken(T) * B * T;
      const params = m.parameterCount();
      tf.dispose(ids);
      m.dispose();
      return {
        ms: median(times), cpuMs: median(cpu), tokens: B * T, flops, all: times,
        memory: { parameters: params, weightsMiB: mib(bytes0), tensorPeakMiB: mib(peakBytes), tensorPeakOverWeightsMiB: mib(peakBytes - bytes0), rssBeforeModelMiB: mib(rss0), rssWithModelMiB: mib(rssModel), rssPeakMiB: mib(rssPeak), rssPeakOverModelMiB: mib(rssPeak - rssModel) },
        note: `peak live tensors ${mib(peakBytes)} MiB (weights ${mib(bytes0)} MiB); RSS peak ${mib(rssPeak)} MiB (+${mib(rssPeak - rssModel)} over the model)`,
      };
    },
    torch: () => ({ case: 'gpt2_fwd_bwd', config: GPT.fullConfig(GPT2_124M), B, T }),
  };
}

/**
 * Per-kernel profile of the stories260K GRPO step's phases (tf.profile: kernel names, calls, summed kernel time) on the
 * current backend: sampling, the no-grad forward of old / ref log-probs (one of the two), the update's forward +
 * backward, clip + AdamW. Custom ops (mm, attention, embed, log-probs) appear under their forward name ('forward' /
 * 'unnamed scope' with the inner kernels also listed); their backward passes run JS / WebAssembly outside kernels and
 * count only in the phase's wall time. tf.profile adds per-kernel bookkeeping: small kernels look slower than they are.
 * → markdown.
 */
export async function profileStoriesStep(dir: string, top = 8): Promise<string> {
  const { AdamW: Adam, clipByGlobalNorm } = await import('./optim');
  const s = await storiesSetup(dir);
  const rows = s.promptIds.flatMap((p) => Array.from({ length: STORIES.group }, () => p));
  const rng = new Rng(1);
  const sample = () => generate(s.policy, rows, { maxNewTokens: STORIES.newTokens, temperature: 1, rng, eos: -1, pad: 0, banned: [0, 1] });
  const g = sample(); // warm-up (and the ids the other phases use)
  const P = STORIES.promptTokens;
  const ids = tf.tensor2d(g.ids, undefined, 'int32'), am = tf.tensor2d(g.attentionMask);
  const opt = new Adam(s.policy.trainableVariables());
  let grads: Record<string, tf.Tensor> = {};
  const phases: [string, () => void][] = [
    ['sampling (64 × 128 tokens, KV cache)', () => { sample(); }],
    ['old log-probs + entropy (one no-grad forward; ref is another)', () => { tf.tidy(() => { s.policy.responseLogprobs(ids, P, { attentionMask: am, entropy: true }).logprobs.dataSync(); }); }],
    ['update: forward + backward', () => { const r = tf.variableGrads(() => tf.neg(tf.mean(s.policy.responseLogprobs(ids, P, { attentionMask: am }).logprobs)) as tf.Scalar, s.policy.trainableVariables()); r.value.dataSync(); r.value.dispose(); grads = r.grads; }],
    ['clip-by-global-norm + AdamW', () => { const c = clipByGlobalNorm(grads, 1); opt.apply(c.grads, 1e-4); tf.dispose([...Object.values(grads), ...Object.values(c.grads)]); }],
  ];
  let md = '| phase | wall ms (profiled) | tfjs kernels ms (calls) | attention op ms (calls) | rest: JS, custom backward passes, dispatch ms | top kernels by name: ms (calls) | top kernels by shape: name [input shapes] ms (calls) |\n|---|---:|---:|---:|---:|---|---|\n';
  for (const [name, f] of phases) {
    const t = performance.now();
    const p = await tf.profile(f);
    const wall = performance.now() - t;
    const byShape = new Map<string, { ms: number; n: number }>(), byName = new Map<string, { ms: number; n: number }>();
    let total = 0, calls = 0, attn = 0, attnCalls = 0;
    const add = (m: Map<string, { ms: number; n: number }>, key: string, ms: number) => { const e = m.get(key) ?? { ms: 0, n: 0 }; e.ms += ms; e.n++; m.set(key, e); };
    for (const k of p.kernels) {
      const ms = await (k.kernelTimeMs as unknown as Promise<number> | number);
      const scope = /^(unnamed scope|forward)$/.test(k.name);
      // attention.ts's op: a custom op whose inputs are q [B,T,H,hd], k, v (its work is JS / WebAssembly, no inner kernels)
      if (scope && k.inputShapes.length === 3 && k.inputShapes[0]?.length === 4) { attn += ms; attnCalls++; continue; }
      if (scope) continue; // mm / embed / log-prob scopes: their inner kernels are counted
      total += ms; calls++;
      add(byName, k.name, ms);
      add(byShape, `${k.name} ${JSON.stringify(k.inputShapes).replace(/"/g, '')}`, ms);
    }
    const fmt = (m: Map<string, { ms: number; n: number }>) => [...m].sort((a, b) => b[1].ms - a[1].ms).slice(0, top).map(([k, v]) => `${k} ${v.ms.toFixed(0)} (${v.n})`).join('; ');
    md += `| ${name} | ${wall.toFixed(0)} | ${total.toFixed(0)} (${calls}) | ${attn.toFixed(0)} (${attnCalls}) | ${(wall - total - attn).toFixed(0)} | ${fmt(byName)} | ${fmt(byShape)} |\n`;
  }
  tf.dispose([ids, am]);
  opt.dispose();
  s.dispose();
  return md;
}
