/**
 * The survey's phenomena on a real pretrained LM (issue 14 item 7; results in docs/survey-claims.md, "On stories260K").
 * stories260K (../shared/models or RL_LENS_STORIES260K) fine-tuned with the real RL loop on the stories-word task, wasm
 * backend, several seeds per arm, the same prompts, budget and sampling per arm:
 *
 * Every arm: 8 prompts × 8 completions of ≤ 96 tokens per step, lr 1e-3 (the grpo-stories preset), 2 minibatches per
 * batch so that the second update sees ratios ≠ 1 and the clip bounds act (with one update per batch they never do).
 *
 *   grpo-sym      GRPO, symmetric clip ε = 0.2                     (the control)
 *   grpo-ch       GRPO, clip-higher ε_low 0.2 / ε_high 0.28 (DAPO) → entropy vs grpo-sym
 *   dr-grpo       Dr. GRPO (no std division, token-sum / constant) → response length vs grpo-sym
 *   grpo-overlong GRPO + DAPO soft overlong punishment (L_max 96, L_cache 32) → length / truncation vs grpo-sym
 *   pass@k        base model vs the grpo-ch policies at k = 1..16 on the held-out prompts
 *
 * Usage: npx tsx scripts/survey-stories.ts [--out DIR] [--seeds 1,2,3] [--steps 12] [--arms a,b]
 * Writes DIR/<arm>-s<seed>.jsonl (one line per step: the step's metrics) and DIR/passk.jsonl; prints a summary table.
 */
import * as fs from 'fs';
import * as path from 'path';
import { initBackend } from '../src/trainer/backend';
import { loadPretrained } from '../src/trainer/model/pretrained';
import { runRl } from '../src/trainer/rl/loop';
import { evaluatePolicy } from '../src/trainer/rl/eval';
import { createStoriesTask } from '../src/trainer/tasks/stories';
import type { RlAlgorithm } from '../src/trainer/rl/config';

const arg = (name: string, def: string) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def; };
const OUT = path.resolve(arg('out', '.scratch/survey'));
const SEEDS = arg('seeds', '1,2,3').split(',').map(Number);
const STEPS = Number(arg('steps', '12'));
const MODEL = process.env.RL_LENS_STORIES260K ?? path.resolve(__dirname, '../../shared/models/stories260K');

const COMMON = { steps: STEPS, promptsPerStep: 8, groupSize: 8, miniBatches: 2, maxNewTokens: 96, lr: 1e-3, warmupSteps: 0, eval: { every: 0 } };
const ARMS: Record<string, { alg: RlAlgorithm; rl: Record<string, unknown> }> = {
  'grpo-sym': { alg: 'grpo', rl: { clipHigh: 0.2 } },
  'grpo-ch': { alg: 'grpo', rl: { clipHigh: 0.28 } },
  'dr-grpo': { alg: 'dr_grpo', rl: { clipHigh: 0.2 } },
  'grpo-overlong': { alg: 'grpo', rl: { clipHigh: 0.2, overlong: { enabled: true, maxLength: 96, cacheLength: 32, factor: 1 } } },
};
const arms = arg('arms', Object.keys(ARMS).join(',')).split(',');
const K = [1, 2, 4, 8, 16];
const passk = (m: Parameters<typeof evaluatePolicy>[0], tok: Parameters<typeof evaluatePolicy>[2]) =>
  evaluatePolicy(m, createStoriesTask('stories-word'), tok, { prompts: 24, samples: 16, temperature: 1, k: K, maxNewTokens: 96, seed: 7 });

async function main(): Promise<void> {
  await initBackend('wasm');
  fs.mkdirSync(OUT, { recursive: true });
  const pkFile = path.join(OUT, 'passk.jsonl');
  if (arms.includes('grpo-ch') && !fs.existsSync(pkFile)) {
    const p = await loadPretrained(MODEL, { maxContext: 160 });
    const e = passk(p.model, p.tokenizer);
    fs.appendFileSync(pkFile, JSON.stringify({ arm: 'base', passAtK: e.passAtK, meanReward: e.meanReward }) + '\n');
    console.log(`base pass@k ${JSON.stringify(e.passAtK)}`);
    p.model.dispose();
  }
  for (const seed of SEEDS) for (const arm of arms) {
    const file = path.join(OUT, `${arm}-s${seed}.jsonl`);
    if (fs.existsSync(file)) continue;
    const p = await loadPretrained(MODEL, { maxContext: 160 });
    const ref = p.model.clone(false);
    const t0 = Date.now();
    const lines: string[] = [];
    const { alg, rl } = ARMS[arm];
    await runRl({ policy: p.model, ref, tokenizer: p.tokenizer, task: createStoriesTask('stories-word'), seed }, alg, { ...COMMON, ...rl }, {
      rollout: () => undefined,
      step: (s, m) => { lines.push(JSON.stringify({ step: s, ...m })); },
    });
    fs.writeFileSync(file + '.tmp', lines.join('\n') + '\n');
    fs.renameSync(file + '.tmp', file);
    if (arm === 'grpo-ch') {
      const e = passk(p.model, p.tokenizer);
      fs.appendFileSync(pkFile, JSON.stringify({ arm, seed, passAtK: e.passAtK, meanReward: e.meanReward }) + '\n');
    }
    console.log(`${arm} seed ${seed}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    ref.dispose(); p.model.dispose();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
