// TDPO, QRPO and SPIN through the engine (what `rl-lens train --preset tdpo-arithmetic` etc. run): registration,
// config sections, data (built-in, and JSONL with file:line errors), metrics, per-token traces (TDPO's seq_kl), SPIN's
// per-iteration checkpoints; and every issue-19 preset resolves. Tiny models, a few steps each (~15 s on 2 cores).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveConfig } from '../../src/trainer/config';
import '../../src/trainer/plugins';
import { runTraining } from '../../src/trainer/engine';
import { readMetrics, listRolloutSteps, readRolloutStep, readSampleArrays, listCheckpoints } from '../../src/runio/reader';
import { PRESETS } from '../../src/trainer/presets';
import { availableMetrics } from '../../src/webview/data/step';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-offline-run-'));
const tiny = (algorithm: string, extra: Record<string, unknown> = {}) => ({
  algorithm, backend: 'wasm', seed: 3, task: { name: 'arithmetic', difficulty: 1 },
  model: { dModel: 16, nHeads: 2, nLayers: 1, contextLength: 12 },
  train: { steps: 4, batchSize: 8, lr: 0.003, lrSchedule: 'constant', warmupSteps: 0 },
  sampling: { maxNewTokens: 4 },
  eval: { every: 0, numPrompts: 4, samplesPerPrompt: 2, k: [1, 2] }, rollouts: { every: 2, maxSamples: 8 },
  ...extra,
});

test('issue-19 presets resolve (CLI and Start Run share them)', () => {
  for (const id of ['tdpo-arithmetic', 'qrpo-arithmetic', 'spin-arithmetic', 'tdpo-stories', 'qrpo-stories']) {
    const c = resolveConfig(PRESETS[id]()) as unknown as { algorithm: string };
    assert.equal(c.algorithm, id.split('-')[0], id);
  }
});

test('tdpo, qrpo, spin train through the engine: metrics, traces (seq_kl for TDPO), SPIN checkpoints per iteration', async () => {
  const runs: [string, Record<string, unknown>][] = [
    ['tdpo', { tdpo: { data: { count: 24, evalCount: 8 }, evalEvery: 0 } }],
    ['qrpo', { qrpo: { refSamples: 3, trainSamples: 2, warmStartSteps: 5, data: { count: 8, evalCount: 4 }, evalEvery: 0 } }],
    ['spin', { spin: { iterations: 2, data: { count: 8 } } }],
  ];
  for (const [alg, extra] of runs) {
    const out = path.join(tmp, alg);
    const r = await runTraining(resolveConfig(tiny(alg, extra)), { outDir: out });
    assert.equal(r.status, 'completed', `${alg}: ${r.error}`);
    const train = readMetrics(out).filter((x) => (x.split ?? 'train') === 'train' && x.values.loss !== undefined);
    assert.equal(train.length, 4, `${alg}: one metrics line per step`);
    const keys = { tdpo: ['kl/chosen', 'kl/rejected', 'rewards/accuracies'], qrpo: ['qrpo/quantile_reward', 'qrpo/implied_reward', 'qrpo/target'], spin: ['rewards/real', 'rewards/generated', 'spin/iteration'] }[alg]!;
    for (const k of keys) assert.ok(k in train[0].values, `${alg}: metric ${k}`);
    assert.deepEqual(listRolloutSteps(out), [1, 2, 4], `${alg}: traced steps`);
    const st = readRolloutStep(out, 4);
    const arr = readSampleArrays(out, st.header, st.samples[0]);
    assert.equal(arr.implicit_reward.length, st.samples[0].length);
    if (alg === 'tdpo') {
      assert.ok(st.header.arrays.includes('seq_kl'), 'TDPO traces carry seq_kl');
      assert.ok(Array.from(arr.seq_kl).every((v) => Number.isFinite(v) && v >= -1e-6));
      // the heatmap offers it (its metric list is what the views draw)
      assert.ok(availableMetrics(st).some((m) => m.id === 'seq_kl'), `heatmap metrics: ${availableMetrics(st).map((m) => m.id).join(', ')}`);
    }
    if (alg === 'spin') {
      assert.deepEqual(st.samples.slice(0, 2).map((s) => s.role), ['real', 'generated']);
      const tags = listCheckpoints(out).map((c) => c.name);
      assert.ok(tags.some((t) => /iter0$/.test(t)) && tags.some((t) => /iter1$/.test(t)), `SPIN checkpoints per iteration: ${tags.join(', ')}`);
    }
    if (alg === 'qrpo') assert.ok(listCheckpoints(out).some((c) => /sft$/.test(c.name)), `warm-start checkpoint: ${listCheckpoints(out).map((c) => c.name).join(', ')}`);
  }
});

test('qrpo / spin JSONL data: loaded from data.path; a bad line stops the run naming file:line and field', async () => {
  const q = path.join(tmp, 'q.jsonl');
  fs.writeFileSync(q, ['{"prompt":"1+2=","completion":"3","reward":1,"ref_rewards":[0,1,0]}', '{"prompt":"3+4=","completion":"8","reward":0,"ref_rewards":[0,1]}', '{"prompt":"2+2=","completion":"4","reward":1,"ref_rewards":[1]}'].join('\n'));
  const r = await runTraining(resolveConfig(tiny('qrpo', { qrpo: { data: { path: q, evalFraction: 0 }, evalEvery: 0 } })), { outDir: path.join(tmp, 'qj') });
  assert.equal(r.status, 'completed', r.error);
  const bad = path.join(tmp, 'qbad.jsonl');
  fs.writeFileSync(bad, '{"prompt":"1+2=","completion":"3","reward":1,"ref_rewards":[0,1,0]}\n{"prompt":"3+4=","completion":"8","reward":0}\n');
  const r2 = await runTraining(resolveConfig(tiny('qrpo', { qrpo: { data: { path: bad } } })), { outDir: path.join(tmp, 'qbad') });
  assert.equal(r2.status, 'failed');
  assert.match(String(r2.error), /qbad\.jsonl:2: field "ref_rewards"/);
  const s = path.join(tmp, 's.jsonl');
  fs.writeFileSync(s, '{"prompt":"1+2=","completion":"3"}\n{"prompt":"3+4=","chosen":"7","rejected":"8"}\n');
  const r3 = await runTraining(resolveConfig(tiny('spin', { spin: { iterations: 2, data: { path: s } } })), { outDir: path.join(tmp, 'sj') });
  assert.equal(r3.status, 'completed', r3.error);
});

// stories260K (the real pretrained Llama, read from ../shared/models at run time) with JSONL data: TDPO pairs, QRPO
// completions with rewards, SPIN demonstrations. Before the first update the policy is its reference: TDPO and SPIN's
// step-1 loss is ln 2, QRPO's held-out loss at step 0 is mean (R_q − β log Z)² (the façade, independent of the run).
import { before } from 'node:test';
import { initBackend } from '../../src/trainer/backend';
import * as R from '../../src/trainer/algorithms/reference';
const MODELS = path.resolve(__dirname, '../../../shared/models');
const S260 = path.join(MODELS, 'stories260K');
const skip = fs.existsSync(path.join(S260, 'stories260K.bin')) ? false : `${S260} not present`;
before(async () => { await initBackend('wasm'); process.env.RL_LENS_MODELS = MODELS; process.env.HF_HUB_OFFLINE = '1'; });

test('stories260K from JSONL: tdpo, qrpo, spin train the pretrained Llama; step-1 losses are the closed-form values', { skip, timeout: 300_000 }, async () => {
  const stories = [
    ['Once upon a time, there was a little girl named Lily. Lily had a ball.', ' Lily played with her ball in the park. She was very happy and smiled.', ' Lily went home. It was cold and she was sad.'],
    ['Once upon a time, there was a little dog named Max. Max had a kite.', ' Max ran with his kite in the wind. He laughed and had fun.', ' Max sat down. The day was long and grey.'],
    ['Once upon a time, there was a little boy named Tom. Tom had a boat.', ' Tom put his boat in the pond. He loved it and smiled.', ' Tom did not go out. He cried.'],
  ];
  const w = (name: string, rows: unknown[]) => { const f = path.join(tmp, name); fs.writeFileSync(f, rows.map((r) => JSON.stringify(r)).join('\n') + '\n'); return f; };
  const pairs = w('s-pairs.jsonl', stories.map(([prompt, chosen, rejected]) => ({ prompt, chosen, rejected })));
  const qrows = stories.flatMap(([prompt, good, bad]) => [{ prompt, completion: good, reward: 0.9, ref_rewards: [0.2, 0.5, 0.9, 0.4] }, { prompt, completion: bad, reward: 0.3, ref_rewards: [0.2, 0.5, 0.9, 0.4] }]);
  const q = w('s-qrpo.jsonl', qrows);
  const demos = w('s-demos.jsonl', stories.map(([prompt, completion]) => ({ prompt, completion })));
  const base = { seed: 1, backend: 'wasm', task: { name: 'stories-word' }, model: { pretrained: S260, contextLength: 96 }, train: { steps: 2, batchSize: 6, lr: 0.0005, warmupSteps: 0, lrSchedule: 'constant' }, sampling: { maxNewTokens: 24 }, eval: { every: 0, numPrompts: 2, samplesPerPrompt: 2, k: [1, 2] }, rollouts: { every: 1, maxSamples: 8 } };
  const expectQ = R.qrpoLoss({ logps: qrows.map(() => 0), refLogps: qrows.map(() => 0), rewards: qrows.map((r) => r.reward), refRewards: qrows.map((r) => r.ref_rewards), beta: 0.1 });
  for (const [alg, sec, first] of [['tdpo', { data: { path: pairs, evalFraction: 0 } }, Math.LN2], ['qrpo', { data: { path: q, evalPath: q } }, expectQ], ['spin', { iterations: 2, data: { path: demos } }, Math.LN2]] as const) {
    const dir = path.join(tmp, `s-${alg}`);
    const r = await runTraining(resolveConfig({ ...base, algorithm: alg, [alg]: sec }), { outDir: dir, progress: () => undefined });
    assert.equal(r.status, 'completed', `${alg}: ${r.error}`);
    // tdpo / spin: the first training step; qrpo: the held-out loss at step 0 over every record (a batch is a sample of them)
    const m = readMetrics(dir).filter((x) => (alg === 'qrpo' ? x.split === 'eval' && x.step === 0 : x.split === 'train'));
    const v = (alg === 'qrpo' ? m[0].values['eval/loss'] : m[0].values.loss) as number;
    assert.ok(Math.abs(v - first) < 1e-4 * Math.max(1, first), `${alg}: start loss ${v}, expected ${first}`);
    const st = readRolloutStep(dir, 1);
    assert.ok(st.samples[0].tokens.some((t) => t.trim().length >= 3), `${alg}: subword pieces in the trace`);
    if (alg === 'tdpo') assert.ok(st.header.arrays.includes('seq_kl'));
  }
});
