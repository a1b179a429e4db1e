// RL on a real pretrained LM: stories260K (../shared/models, read in place) through the real RL loop (runRl → rlStep
// → KV-cache rollouts → GRPO / PPO updates) on the TinyStories task, wasm backend. Rewards of the task are checked by
// hand; a run writes per-token traces of real subword tokens, only the arrays the algorithm computes, with finite
// losses and no tensor growth between steps; PPO gets a value head on the Llama trunk.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../../src/trainer/backend';
import { loadPretrained } from '../../src/trainer/model/pretrained';
import { runRl, withValueHead } from '../../src/trainer/rl/loop';
import { createStoriesTask, storiesReward, storyPrompts, type StoriesItem } from '../../src/trainer/tasks/stories';
import type { RolloutStepInput } from '../../src/shared/rolloutStep';

const S260 = path.resolve(__dirname, '../../../shared/models/stories260K');
const skip = fs.existsSync(path.join(S260, 'stories260K.bin')) ? false : `${S260} not present`;

before(async () => { await initBackend('wasm'); });

test('stories task: fixed prompt grid, disjoint train / eval split, rewards with named parts (hand-checked)', () => {
  const all = storyPrompts();
  assert.equal(all.length, 10 * 6 * 12);
  const task = createStoriesTask('stories-word');
  const evalSet = task.evalItems(1000);
  assert.ok(evalSet.length > 30 && evalSet.length < 120, `${evalSet.length} eval prompts (~10 %)`);
  const evalPrompts = new Set(evalSet.map((x) => x.prompt));
  const rng = { int: (n: number) => Math.floor(Math.random() * n) } as never;
  for (let i = 0; i < 300; i++) assert.ok(!evalPrompts.has(task.sampleTrain(rng).prompt), 'a train prompt is never an eval prompt');
  const it: StoriesItem = { prompt: 'Once upon a time, there was a little dog named Max. Max had a ball.', word: 'ball', answer: 'ball' };
  const story = 'Max played with his ball every day. One day the Ball rolled away. Max was sad. Then he found it and smiled.';
  // 21 words: inside 20..120; "Ball" counts (any case); the last sentence has "smiled"
  assert.deepEqual(storiesReward(it, story, true), { score: 2, parts: { word: 1, ending: 1, length: 1 }, correct: true });
  assert.deepEqual(storiesReward(it, 'Max ran to the park. He was sad.', false), { score: 0, parts: { word: 0, ending: 0, length: 0 }, correct: false });
  assert.equal(storiesReward(it, 'The balloon flew away and everyone was happy.', true).parts.word, 0, 'whole words only ("balloon" is not "ball")');
  // the hackable variant pays for repetition; the honest score is logged beside it
  const hack = createStoriesTask('stories-hackable');
  const r = hack.reward(it, 'ball ball ball ball ball ball', false);
  assert.equal(r.parts.word, 3);
  // honest = stories-word score (word 1, ending 0, length 0: 6 words) × distinct 3-grams (1 of 4: "ball ball ball")
  assert.equal(r.parts.honest, 0.25);
  // a story without loops keeps its stories-word score: all 19 of its 3-grams differ
  assert.equal(hack.reward(it, story, true).parts.honest, 2);
  // by hand: 15 words, word "box" used (1), "smiled" in the last sentence (ending 1), < 20 words (length 0) → 1.5;
  // 13 word 3-grams of which "the box to", "box to the", "to the box" repeat once each → 10 distinct → 1.5 · 10/13
  const loop = hack.reward({ prompt: 'p', word: 'box', answer: 'box' } as StoriesItem, 'Max put the toy in the box to the box to the box and smiled.', true);
  assert.ok(Math.abs(loop.parts.honest - 1.5 * 10 / 13) < 1e-12, String(loop.parts.honest));
  assert.ok(r.score > hack.reward(it, story, true).score - 1, 'repetition scores about as high as a good story');
});

test('GRPO (clip-higher) on stories260K: 3 steps through the real loop, subword traces, finite losses, no tensor growth', { skip }, async () => {
  const p = await loadPretrained(S260, { maxContext: 96 });
  const ref = p.model.clone(false);
  const steps: RolloutStepInput[] = [];
  const r = await runRl({ policy: p.model, ref, tokenizer: p.tokenizer, task: createStoriesTask('stories-word'), seed: 3 }, 'grpo', {
    steps: 3, promptsPerStep: 3, groupSize: 4, maxNewTokens: 40, lr: 1e-3, warmupSteps: 0, clipHigh: 0.28, eval: { every: 0 },
  }, { rollout: (_s, ro) => { steps.push(ro); } });
  ref.dispose();
  assert.equal(r.steps, 3);
  for (const m of r.metrics) for (const [k, v] of Object.entries(m)) if (/loss/.test(k)) assert.ok(v !== null && Number.isFinite(v), `${k} = ${v}`);
  assert.equal(r.metrics[1]['num_tensors'], r.metrics[2]['num_tensors'], 'tensor count constant from step 2 on');
  const st = steps[2];
  assert.equal(st.samples.length, 12);
  assert.ok(!st.header.arrays.includes('value') && !st.header.arrays.includes('return'), st.header.arrays.join(', '));
  // real subword tokens: pieces of several characters, and the token texts join to the completion
  const s0 = st.samples[0];
  assert.ok(s0.tokens.some((t) => t.trim().length >= 3), JSON.stringify(s0.tokens.slice(0, 10)));
  assert.equal(s0.tokens.join('').replace(/^ /, ''), s0.completion.replace(/^ /, ''));
  assert.equal(st.arrays[0].logprob.length, s0.length);
  assert.equal(st.header.params?.clipHigh, 0.28);
  p.model.dispose();
});

test('PPO on stories260K: a value head on the Llama trunk, value and return traced', { skip }, async () => {
  const p = await loadPretrained(S260, { maxContext: 64 });
  const policy = withValueHead(p.model, true);
  p.model.dispose();
  const ref = policy.clone(false);
  const steps: RolloutStepInput[] = [];
  const r = await runRl({ policy, ref, tokenizer: p.tokenizer, task: createStoriesTask('stories-word'), seed: 4 }, 'ppo', {
    steps: 1, promptsPerStep: 2, groupSize: 2, maxNewTokens: 24, lr: 1e-4, warmupSteps: 0, eval: { every: 0 },
  }, { rollout: (_s, ro) => { steps.push(ro); } });
  assert.ok(Number.isFinite(r.metrics[0]['vf_loss'] as number), 'vf_loss logged');
  assert.ok(steps[0].header.arrays.includes('value') && steps[0].header.arrays.includes('return'));
  policy.dispose(); ref.dispose();
});

test('sampling never emits PAD or BOS, except a BOS that is the stop token (llama2.c stories)', async () => {
  const { specialIds } = await import('../../src/trainer/rl/rollout');
  const { CharTokenizer, DEFAULT_CHARS, PAD, BOS, EOS } = await import('../../src/trainer/tokenizer');
  assert.deepEqual(specialIds(new CharTokenizer(DEFAULT_CHARS)), { eos: EOS, pad: PAD, banned: [PAD, BOS] });
  assert.deepEqual(specialIds({ encode: () => [], decode: () => '', display: () => [], bos: 1, eos: 1, pad: 0 }), { eos: 1, pad: 0, banned: [0] });
  assert.deepEqual(specialIds({ encode: () => [], decode: () => '', display: () => [] }), {}, 'no ids named: sampling.ts defaults');
});
