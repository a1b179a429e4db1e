// Runs on a real pretrained LM through the engine, as `rl-lens train` and Start Run do them: config checks for
// model.pretrained, the grpo-stories preset (the default run) on stories260K by its hub id (found in the local copy
// ../shared/models through RL_LENS_MODELS, sha256-pinned), checkpoints that carry the model family and its tokenizer,
// resuming from such a checkpoint (init.checkpoint), and the checkpoint report (the diff editor's data) on it.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, PRESETS, deepMerge, resolveConfig } from '../../src/trainer/config';
import '../../src/trainer/plugins';
import { runTraining } from '../../src/trainer/engine';
import { initBackend } from '../../src/trainer/backend';
import { loadCheckpoint, readCheckpointMeta } from '../../src/trainer/checkpoint';
import { Llama } from '../../src/trainer/model/llama';
import { loadPretrained } from '../../src/trainer/model/pretrained';
import { computeReport } from '../../src/trainer/report/compute';
import { validateRun } from '../../src/cli/validate';
import { listCheckpoints, listRolloutSteps, readEvals, readManifest, readMetrics, readRolloutStep } from '../../src/runio/reader';
import { defaultPreset, grpoStoriesPreset, startRunPresets } from '../../src/shared/presets';

const MODELS = path.resolve(__dirname, '../../../shared/models');
const S260 = path.join(MODELS, 'stories260K');
const skip = fs.existsSync(path.join(S260, 'stories260K.bin')) ? false : `${S260} not present`;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-pre-'));
const small = { backend: 'wasm', train: { steps: 2 }, eval: { every: 2, numPrompts: 4, samplesPerPrompt: 2, k: [1, 2] }, sampling: { maxNewTokens: 24 }, checkpoint: { every: 1 }, rollouts: { every: 1, maxSamples: 8 }, rl: { promptsPerStep: 2, groupSize: 4 } };

before(async () => { await initBackend('wasm'); process.env.RL_LENS_MODELS = MODELS; process.env.HF_HOME = tmp(); process.env.HF_HUB_OFFLINE = '1'; });

test('the default run is GRPO with clip-higher on stories260K, the same config for the CLI and Start Run\'s first preset', () => {
  const d = defaultPreset() as { algorithm: string; task: { name: string }; model: { pretrained: string }; rl: { clipHigh: number } };
  assert.equal(d.algorithm, 'grpo');
  assert.equal(d.model.pretrained, 'hf:karpathy/tinyllamas/stories260K');
  assert.equal(d.task.name, 'stories-word');
  assert.equal(d.rl.clipHigh, 0.28);
  assert.deepEqual(PRESETS.default(), d);
  const first = startRunPresets()[0];
  assert.equal(first.id, 'grpo-stories');
  assert.deepEqual(first.make(), PRESETS['grpo-stories'](), 'Start Run and `rl-lens train --preset grpo-stories` build the same config');
  assert.deepEqual(first.make(), d);
});

test('config: model.pretrained is checked (stories tasks need it, RL algorithms only, not with init.checkpoint) and resolved against the config file', () => {
  const err = (raw: Record<string, unknown>, file?: string) => { try { resolveConfig(raw, { file }); } catch (e) { assert.ok(e instanceof ConfigError, String(e)); return (e as Error).message; } return ''; };
  assert.match(err({ algorithm: 'grpo', task: { name: 'stories-word' } }), /config\.task\.name.*stories-word.*model\.pretrained/);
  assert.match(err({ algorithm: 'sft', task: { name: 'stories-word' }, model: { pretrained: S260 } }), /config\.model\.pretrained.*online RL algorithms/);
  assert.match(err({ algorithm: 'reward_model', model: { pretrained: S260 } }), /config\.model\.pretrained.*reward models/);
  assert.equal(err({ algorithm: 'dpo', task: { name: 'stories-word' }, model: { pretrained: S260, contextLength: 160 } }), '', 'DPO trains pretrained models');
  assert.match(err({ algorithm: 'grpo', task: { name: 'stories-word' }, model: { pretrained: S260 }, init: { checkpoint: '/x' } }), /config\.init\.checkpoint.*not both/);
  const c = resolveConfig({ algorithm: 'grpo', task: { name: 'stories-word' }, model: { pretrained: 'models/s', tokenizer: 'models/tok512.bin', contextLength: 128 } }, { file: '/work/cfgs/run.rllens.json' });
  assert.equal(c.model.pretrained, '/work/cfgs/models/s');
  assert.equal(c.model.tokenizer, '/work/cfgs/models/tok512.bin');
  assert.equal(resolveConfig({ algorithm: 'grpo', task: { name: 'stories-word' }, model: { pretrained: 'hf:karpathy/tinyllamas/stories260K' } }, { file: '/w/a.json' }).model.pretrained, 'hf:karpathy/tinyllamas/stories260K');
});

test('grpo-stories through the engine: a valid run of real subword tokens; checkpoints carry the family and the tokenizer; init.checkpoint resumes; the report reads them', { skip, timeout: 600_000 }, async () => {
  const dir = path.join(tmp(), 'run');
  const lines: string[] = [];
  const r = await runTraining(resolveConfig(deepMerge(grpoStoriesPreset(), small)), { outDir: dir, progress: (l) => lines.push(l) });
  assert.equal(r.status, 'completed', r.error);
  assert.ok(lines.some((l) => /llama model hf:karpathy\/tinyllamas\/stories260K 260,032 parameters/.test(l)), lines.join('\n'));
  assert.ok(!lines.some((l) => /warm start \d/.test(l)), 'no supervised warm start for a pretrained model');
  assert.deepEqual(validateRun(dir).filter((p) => p.severity !== 'warning'), []);
  const m = readManifest(dir);
  const derived = (m.config as { derived: { maxPromptTokens: number; maxNewTokens: number; vocabSize: number; pretrained: { format: string; files: string[] } } }).derived;
  assert.equal(derived.vocabSize, 512);
  assert.equal(derived.maxNewTokens, 24);
  assert.ok(derived.maxPromptTokens > 10 && derived.maxPromptTokens < 40, `longest prompt ${derived.maxPromptTokens} tokens`);
  assert.equal(derived.pretrained.format, 'llama2c');
  assert.equal(derived.pretrained.files[0], path.join(S260, 'stories260K.bin'), 'the hub id resolved to the local copy');
  // traces: subword pieces, the ids decode to the completion, reward parts of the task
  const steps = listRolloutSteps(dir);
  assert.equal(steps.length, 2);
  const st = readRolloutStep(dir, steps[1]);
  assert.equal(st.samples.length, 8);
  assert.ok(st.samples.some((s) => s.tokens.some((t) => t.trim().length >= 3)), 'pieces of several characters');
  assert.ok(st.header.arrays.includes('logprob') && st.header.arrays.includes('advantage'));
  assert.deepEqual(Object.keys(st.samples[0].rewardParts ?? {}).sort(), ['ending', 'length', 'word']);
  assert.equal(readMetrics(dir).filter((x) => x.split === 'train').length, 2);
  assert.deepEqual(Object.keys(readEvals(dir).at(-1)!.passAtK), ['1', '2']);
  // checkpoints: family, Llama config, tokenizer copied beside the weights
  const cks = listCheckpoints(dir);
  // the periodic checkpoint of step 2 is written before step 2's eval (the RL loop checkpoints, then evaluates): it
  // must still carry that eval, not step 0's (the tree and Compare Checkpoints show it)
  const ev2 = readEvals(dir).find((e) => e.step === 2)!;
  assert.deepEqual(readCheckpointMeta(cks.find((c) => c.meta?.step === 2 && c.meta?.tag === 'periodic')!.dir).eval?.passAtK, ev2.passAtK);
  const fin = cks.find((c) => c.meta?.tag === 'final')!;
  const meta = readCheckpointMeta(fin.dir);
  assert.equal(meta.model.family, 'llama');
  assert.equal(meta.tokenizer.type, 'llama2c');
  assert.ok(fs.existsSync(path.join(fin.dir, 'tok512.bin')));
  const ck = loadCheckpoint(fin.dir, { trainable: false });
  assert.ok(ck.model instanceof Llama);
  assert.deepEqual(ck.tokenizer.encode('Lily had a ball.', { bos: true }), (await loadPretrained(S260)).tokenizer.encode('Lily had a ball.', { bos: true }));
  // the checkpoint is the trained policy: not the pretrained weights any more, and its logits are finite
  const base = (await loadPretrained(S260, { maxContext: 160 })).model;
  const ids = tf.tensor2d([ck.tokenizer.encode('Once upon a time', { bos: true })], undefined, 'int32');
  const a = ck.model.forward(ids).logits, b = base.forward(ids).logits;
  const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
  assert.ok(diff > 1e-4 && Number.isFinite(diff), `trained vs pretrained logits differ by ${diff}`);
  tf.dispose([ids, a, b]); base.dispose(); ck.model.dispose();
  // resume: init.checkpoint of a pretrained run (no model.pretrained) trains on with its tokenizer
  const dir2 = path.join(tmp(), 'run2');
  const resumed = deepMerge(grpoStoriesPreset(), { ...small, train: { steps: 1 }, init: { checkpoint: fin.dir } }) as { model: Record<string, unknown> };
  delete resumed.model.pretrained;
  const r2 = await runTraining(resolveConfig(resumed), { outDir: dir2, progress: () => undefined });
  assert.equal(r2.status, 'completed', r2.error);
  assert.equal(readCheckpointMeta(listCheckpoints(dir2).find((c) => c.meta?.tag === 'final')!.dir).tokenizer.type, 'llama2c');
  // the checkpoint report (what the diff editor shows): greedy generations with the stories reward, pass@k
  const first = cks.find((c) => c.meta?.step === 1)!;
  const rep = computeReport(fin.dir, { base: first.dir, settings: { samples: 2, numPrompts: 3, seed: 1, temperature: 1, generations: true }, noCache: true });
  assert.equal(rep.eval?.generations.items.length, 3);
  assert.ok(rep.eval!.generations.items[0].completion.length > 20, rep.eval!.generations.items[0].completion);
});

test('model.lora: GRPO trains only the adapters (the reference is the base, adapters off); checkpoints are PEFT adapter folders that load back and export to a Hugging Face folder', { skip, timeout: 600_000 }, async () => {
  const dir = path.join(tmp(), 'lora');
  const lines: string[] = [];
  const cfg = resolveConfig(deepMerge(grpoStoriesPreset(), { ...small, name: 'grpo-stories-lora', model: { lora: { r: 4, alpha: 8 } } }));
  const r = await runTraining(cfg, { outDir: dir, progress: (l) => lines.push(l) });
  assert.equal(r.status, 'completed', r.error);
  // 5 layers × 7 modules, r·(in + out) each (stories260K: d 64, 8 query / 4 key-value heads of 8, hidden 172):
  // q 64→64, k and v 64→32, o 64→64, gate and up 64→172, down 172→64
  const want = 5 * 4 * ((64 + 64) + 2 * (64 + 32) + (64 + 64) + 3 * (64 + 172));
  assert.ok(lines.some((l) => l.includes(`LoRA r 4, alpha 8 on 35 layers: ${want.toLocaleString('en-US')} trainable beside 260,032 frozen parameters`)), lines.join('\n'));
  assert.deepEqual(validateRun(dir).filter((p) => p.severity !== 'warning'), []);
  const fin = listCheckpoints(dir).find((c) => c.meta?.tag === 'final')!;
  const names = fs.readdirSync(fin.dir).sort();
  assert.deepEqual(names, ['adapter_config.json', 'adapter_model.safetensors', 'checkpoint.json', 'tok512.bin'], 'the adapters, not the frozen base');
  const ac = JSON.parse(fs.readFileSync(path.join(fin.dir, 'adapter_config.json'), 'utf8'));
  assert.equal(ac.peft_type, 'LORA');
  assert.equal(ac.r, 4);
  assert.equal(ac.lora_alpha, 8);
  const meta = readCheckpointMeta(fin.dir);
  assert.equal((meta.model.base as { local: string }).local, path.join(S260, 'stories260K.bin'));
  // loads back as the trained policy: the adapters moved, the base did not
  const ck = loadCheckpoint(fin.dir, { trainable: false });
  const base = (await loadPretrained(S260, { maxContext: 160 })).model;
  const ids = tf.tensor2d([ck.tokenizer.encode('Once upon a time, there was a little dog', { bos: true })], undefined, 'int32');
  const a = ck.model.forward(ids).logits, b = base.forward(ids).logits;
  const moved = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
  assert.ok(moved > 1e-5, `adapters changed the logits by ${moved}`);
  // rl-lens export merges them into a Hugging Face folder that loads with the same logits (float32; docs/models.md)
  const { exportMergedLora } = await import('../../src/trainer/model/export');
  const out = path.join(tmp(), 'merged');
  await exportMergedLora({ model: S260, adapter: fin.dir, out });
  const merged = (await loadPretrained(out, { maxContext: 160 })).model;
  const c = merged.forward(ids).logits;
  const err = tf.max(tf.abs(tf.sub(a, c))).dataSync()[0];
  assert.ok(err < 3e-5, `exported vs LoRA logits ${err}`);
  tf.dispose([ids, a, b, c]); base.dispose(); merged.dispose(); ck.model.dispose();
});

test('Stop while the pretrained model loads: the run ends before its first step (status stopped, a stop checkpoint, nothing half-written)', { skip, timeout: 300_000 }, async () => {
  const { StopSignal } = await import('../../src/trainer/engine');
  const dir = path.join(tmp(), 'stopped');
  const stop = new StopSignal();
  stop.request('stop during load');
  const r = await runTraining(resolveConfig(deepMerge(grpoStoriesPreset(), small)), { outDir: dir, stop, progress: () => undefined });
  assert.equal(r.status, 'stopped');
  assert.equal(r.step, 0);
  assert.equal(listRolloutSteps(dir).length, 0);
  assert.equal(readMetrics(dir).filter((x) => x.split === 'train').length, 0);
  assert.ok(listCheckpoints(dir).some((c) => c.meta?.tag === 'stop'));
  assert.deepEqual(validateRun(dir).filter((p) => p.severity !== 'warning'), []);
});

test('DPO on stories260K from a JSONL of story pairs: at step 1 the policy is the reference, so the loss is ln 2 (by hand); the margin grows; a llama checkpoint', { skip, timeout: 300_000 }, async () => {
  const root = tmp();
  const stories = [
    ['Once upon a time, there was a little girl named Lily. Lily had a ball.', ' Lily played with her ball in the park. She was very happy and smiled.', ' Lily went home. It was cold and she was sad.'],
    ['Once upon a time, there was a little dog named Max. Max had a kite.', ' Max ran with his kite in the wind. He laughed and had fun.', ' Max sat down. The day was long and grey.'],
    ['Once upon a time, there was a little boy named Tom. Tom had a boat.', ' Tom put his boat in the pond. He loved it and smiled.', ' Tom did not go out. He cried.'],
    ['Once upon a time, there was a little cat named Mia. Mia had a hat.', ' Mia wore her hat all day. She was glad and happy.', ' Mia lost something. She was sad.'],
  ];
  const file = path.join(root, 'pairs.jsonl');
  fs.writeFileSync(file, stories.map(([prompt, chosen, rejected]) => JSON.stringify({ prompt, chosen, rejected })).join('\n') + '\n');
  const dir = path.join(root, 'dpo');
  const cfg = resolveConfig({
    algorithm: 'dpo', seed: 1, backend: 'wasm', task: { name: 'stories-word' }, model: { pretrained: S260, contextLength: 128 },
    train: { steps: 6, batchSize: 4, lr: 0.001, warmupSteps: 0, lrSchedule: 'constant' }, sampling: { maxNewTokens: 16 },
    eval: { every: 0, numPrompts: 2, samplesPerPrompt: 2, k: [1, 2] }, rollouts: { every: 3, maxSamples: 8 }, dpo: { beta: 0.1, data: { path: file } },
  });
  const r = await runTraining(cfg, { outDir: dir, progress: () => undefined });
  assert.equal(r.status, 'completed', r.error);
  const m = readMetrics(dir).filter((x) => x.split === 'train');
  // policy = reference before the first update: every implicit reward is 0, −log σ(0) = ln 2
  assert.ok(Math.abs((m[0].values.loss as number) - Math.log(2)) < 1e-4, `step-1 loss ${m[0].values.loss}`);
  assert.ok((m[5].values['rewards/margins'] as number) > (m[0].values['rewards/margins'] as number) + 0.05, `margins ${m.map((x) => x.values['rewards/margins']).join(' ')}`);
  const fin = listCheckpoints(dir).find((c) => c.meta?.tag === 'final')!;
  assert.equal(readCheckpointMeta(fin.dir).model.family, 'llama');
  // the traces hold subword pieces
  const st = readRolloutStep(dir, listRolloutSteps(dir)[0]);
  assert.ok(st.samples[0].tokens.some((t) => t.trim().length >= 3), JSON.stringify(st.samples[0].tokens));
});
