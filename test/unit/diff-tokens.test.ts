// Token-by-token comparison of two checkpoints (src/trainer/diffTokens.ts, `rl-lens diff-tokens`, issue 21):
// per-token log-prob, entropy, rank, top-k and KL(B‖A) of tiny random Hugging Face llamas against the float64 Python
// forward (test/fixtures/hf_ref.py) within 1e-4, batched with left padding and a temperature; no tensor leaks;
// cancel between batches; on a real GRPO run on stories260K the log-probs under checkpoint step s−1 equal the
// `old_logprob` the trainer wrote for step s's rollouts; the CLI end to end (exit codes, files, cache) and the
// error for checkpoints of different tokenizers.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/trainer/backend';
import { loadHfModel } from '../../src/trainer/model/hf';
import { GPT } from '../../src/trainer/model/gpt';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { saveCheckpoint, loadCheckpoint } from '../../src/trainer/checkpoint';
import { DiffTokensCancelled, completionsFromRun, diffCheckpoints, diffTokens, readTokenDiffSummary, tokenDiffSampleArrays, type DiffCompletion } from '../../src/trainer/diffTokens';
import { run as cliRun } from '../../src/cli/diffTokens';
import { folder, llamaHf } from '../fixtures/hfFolder';
import { captureOutput } from './capture-output';
import { deepMerge, resolveConfig } from '../../src/trainer/config';
import '../../src/trainer/plugins';
import { runTraining } from '../../src/trainer/engine';
import { grpoStoriesPreset } from '../../src/shared/presets';
import { listCheckpoints, readRolloutStep } from '../../src/runio/reader';
import { sampleArray } from '../../src/shared/rolloutStep';
import Ajv from 'ajv';
import { RUN_FORMAT_SCHEMA } from '../../src/trainer/runSchema';

const python = spawnSync('python3', ['--version']).status === 0;
const MODELS = path.resolve(__dirname, '../../../shared/models');
const S260 = path.join(MODELS, 'stories260K');
const skipStories = fs.existsSync(path.join(S260, 'stories260K.bin')) ? false : `${S260} not present`;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-difftok-'));

before(async () => { await initBackend('wasm'); });

const V = 13;
const cfg = { model_type: 'llama', vocab_size: V, hidden_size: 16, intermediate_size: 24, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 32, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false, hidden_act: 'silu' };

function refLogits(dir: string, ids: number[]): number[][] {
  const r = spawnSync('python3', [path.join(__dirname, '../fixtures/hf_ref.py'), dir], { input: JSON.stringify({ ids }), encoding: 'utf8', maxBuffer: 1 << 24 });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { logits: number[][] }).logits;
}

/** float64: log-softmax of z/τ, entropy, rank of `tok` (1 + #greater), sorted ids. */
function ref64(z: number[], tok: number, tau: number) {
  const x = z.map((v) => v / tau), m = Math.max(...x);
  const lse = m + Math.log(x.reduce((s, v) => s + Math.exp(v - m), 0));
  const lp = x.map((v) => v - lse);
  const ent = -lp.reduce((s, l) => s + Math.exp(l) * l, 0);
  const rank = 1 + x.filter((v) => v > x[tok]).length;
  const order = lp.map((l, i) => [l, i]).sort((p, q) => q[0] - p[0]);
  return { lp, ent, rank, order };
}

function charCheckpoint(dir: string, chars: string, seed: number, step: number): string {
  const tok = new CharTokenizer(chars);
  const m = GPT.create({ vocabSize: tok.vocab.length, contextLength: 24, dModel: 16, nHeads: 2, nLayers: 1, mlpRatio: 2 }, seed);
  saveCheckpoint(dir, m, { step, algorithm: 'grpo', time: new Date().toISOString(), config: {}, tokenizer: tok.spec() });
  m.dispose();
  return dir;
}

test('rl-lens diff-tokens end to end: usage errors exit 2, bad input exit 1 naming the file, different tokenizers named, output folder + cache', async () => {
  const root = tmp();
  const a = charCheckpoint(path.join(root, 'run', 'checkpoints', 'step_00000001'), 'abc +=0123456789', 1, 1);
  const b = charCheckpoint(path.join(root, 'run', 'checkpoints', 'step_00000002'), 'abc +=0123456789', 2, 2);
  const other = charCheckpoint(path.join(root, 'other'), 'xyz', 3, 1);
  const jsonl = path.join(root, 'c.jsonl');
  fs.writeFileSync(jsonl, ['{"prompt":"1+2=","completion":"3"}', '{"prompt":"12+30=","completion":"42"}', '', '{"prompt":"a b","completion":"cab ba abc"}'].join('\n'));
  const cli = (args: string[]) => captureOutput(() => cliRun(args));

  let r = await cli([a, b]);
  assert.equal(r.code, 2); assert.match(r.err, /--completions is required/);
  r = await cli([a, '--completions', jsonl]);
  assert.equal(r.code, 2); assert.match(r.err, /two checkpoint folders/);
  r = await cli([a, b, '--completions', jsonl, '--top-k', '0']);
  assert.equal(r.code, 2); assert.match(r.err, /--top-k must be a positive integer/);
  r = await cli([a, b, '--completions', path.join(root, 'nope.jsonl')]);
  assert.equal(r.code, 1); assert.match(r.err, /nope\.jsonl: no such file/);
  r = await cli([a, path.join(root, 'missing'), '--completions', jsonl]);
  assert.equal(r.code, 1); assert.match(r.err, /missing[/\\]checkpoint\.json: missing/);
  r = await cli([a, other, '--completions', jsonl]);
  assert.equal(r.code, 1);
  assert.match(r.err, /different tokenizers: A .*step_00000001 has a char tokenizer \(19 tokens\), B .*other has a char tokenizer \(6 tokens\)/);
  const bad = path.join(root, 'bad.jsonl');
  fs.writeFileSync(bad, '{"prompt":"1+2=","completion":"3"}\n{"prompt":"Q","completion":"x"}\n');
  r = await cli([a, b, '--completions', bad]);
  assert.equal(r.code, 1); assert.match(r.err, /bad\.jsonl:2: /);
  fs.writeFileSync(bad, '{"prompt":"1+2="}\n');
  r = await cli([a, b, '--completions', bad]);
  assert.equal(r.code, 1); assert.match(r.err, /bad\.jsonl:1: expected \{"prompt": string, "completion": string\}/);

  r = await cli([a, b, '--completions', jsonl, '--batch', '2', '--min-count', '1']);
  assert.equal(r.code, 0, r.err);
  const last = r.out.trim().split('\n').pop()!;
  assert.match(last, /^cached in: /, 'the last line is labelled');
  const outDir = last.replace(/^cached in: /, '');
  assert.equal(path.dirname(outDir), path.join(b, 'token-diff'), 'cached next to B');
  assert.match(r.out, /3 completions, 13 tokens from .*c\.jsonl, temperature 1/);
  assert.match(r.out, /risers \(mean Δlogprob/);
  for (const f of ['summary.json', 'samples.jsonl', 'tokens.f32', 'vocab.json']) assert.ok(fs.existsSync(path.join(outDir, f)), f);
  const s = readTokenDiffSummary(outDir)!;
  assert.equal(s.counts.samples, 3); assert.equal(s.counts.tokens, 13);
  assert.equal(s.settings.topK, 5);
  const lines = fs.readFileSync(path.join(outDir, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.tokens.join('')), ['3', '42', 'cab ba abc']);
  assert.equal(lines[0].promptIds[0], 1, 'prompt starts with BOS');
  // the .f32 block read back equals a fresh computation
  const buf = fs.readFileSync(path.join(outDir, 'tokens.f32'));
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const per = s.arrays.reduce((x, n) => x + n.width, 0);
  assert.equal(data.length, per * 13);
  const A = loadCheckpoint(a, { trainable: false }), B = loadCheckpoint(b, { trainable: false });
  const fresh = await diffTokens(A.model, B.model, lines.map((l) => ({ prompt: l.prompt, completion: l.completion, promptIds: l.promptIds, completionIds: l.tokenIds })));
  A.model.dispose(); B.model.dispose();
  lines.forEach((l, i) => {
    const arr = tokenDiffSampleArrays(s, s.samples[i], data);
    assert.deepEqual(Array.from(arr.logprob_b), Array.from(fresh.samples[i].arrays.logprob_b));
    assert.deepEqual(Array.from(arr.top_a_id), Array.from(fresh.samples[i].arrays.top_a_id));
    assert.ok(Math.abs(l.sumDelta - fresh.samples[i].sumDelta) < 1e-6);
  });
  const vocab = JSON.parse(fs.readFileSync(path.join(outDir, 'vocab.json'), 'utf8')) as Record<string, string>;
  assert.equal(vocab[String(lines[0].tokenIds[0])], '3');
  // the second time: the cache
  r = await cli([a, b, '--completions', jsonl, '--batch', '2', '--min-count', '1']);
  assert.equal(r.code, 0); assert.match(r.out, /\(cached\)/);
  // --out and --json
  const out2 = path.join(root, 'cmp');
  r = await cli([a, b, '--completions', jsonl, '--out', out2, '--json']);
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out.trim().split('\n').pop()!).dir, out2);
  assert.ok(fs.existsSync(path.join(out2, 'summary.json')));
  // summary.json and every samples.jsonl line validate against the shipped schema's definitions
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addSchema(RUN_FORMAT_SCHEMA as object, 'rf');
  const vs = ajv.getSchema('rf#/definitions/tokenDiffSummary')!, vl = ajv.getSchema('rf#/definitions/tokenDiffSample')!;
  assert.ok(vs(JSON.parse(fs.readFileSync(path.join(out2, 'summary.json'), 'utf8'))), JSON.stringify(vs.errors));
  for (const l of fs.readFileSync(path.join(out2, 'samples.jsonl'), 'utf8').trim().split('\n')) assert.ok(vl(JSON.parse(l)), JSON.stringify(vl.errors));
});

test('per-token log-prob, entropy, rank, top-k and KL(B‖A) equal a float64 reference forward (≤ 1e-4), batched with left padding, at T=1 and T=0.7; no leaks', { skip: !python && 'python3 not installed', timeout: 120_000 }, async () => {
  const dirA = folder(cfg, llamaHf({ V, D: 16, F: 24, L: 2, H: 4, K: 2, bias: false, tied: false }, 11), 'F32');
  const dirB = folder(cfg, llamaHf({ V, D: 16, F: 24, L: 2, H: 4, K: 2, bias: false, tied: false }, 12), 'F32');
  const A = loadHfModel(dirA, { trainable: false }).model, B = loadHfModel(dirB, { trainable: false }).model;
  const items: DiffCompletion[] = [
    { prompt: 'p0', completion: 'c0', promptIds: [1, 5, 2], completionIds: [9, 0, 7, 3] },
    { prompt: 'p1', completion: 'c1', promptIds: [1], completionIds: [4, 4, 12, 6, 2, 8] },
    { prompt: 'p2', completion: 'c2', promptIds: [1, 3, 3, 10, 11], completionIds: [5] },
    { prompt: 'p3', completion: 'c3', promptIds: [1, 7], completionIds: [2, 6, 10] },
  ];
  const refs = items.map((it) => { const ids = [...it.promptIds, ...it.completionIds]; return { a: refLogits(dirA, ids), b: refLogits(dirB, ids) }; });
  await diffTokens(A, B, items, { topK: 4, batch: 3 }); // warm-up: the models' constants (causal masks, rope tables) are made once per shape
  for (const tau of [1, 0.7]) {
    const before0 = tf.memory().numTensors;
    const progress: number[] = [];
    const r = await diffTokens(A, B, items, { topK: 4, batch: 3, temperature: tau, onProgress: (d) => progress.push(d) });
    assert.equal(tf.memory().numTensors, before0, 'no tensors left behind');
    assert.deepEqual(progress, [3, 4]);
    let worst = 0, worstKl = 0;
    const d = (x: number, y: number) => { worst = Math.max(worst, Math.abs(x - y)); };
    items.forEach((it, i) => {
      const s = r.samples[i];
      assert.equal(s.length, it.completionIds.length);
      let sum = 0, klSum = 0;
      it.completionIds.forEach((tok, t) => {
        const row = it.promptIds.length - 1 + t;
        const a = ref64(refs[i].a[row], tok, tau), b = ref64(refs[i].b[row], tok, tau);
        d(s.arrays.logprob_a[t], a.lp[tok]); d(s.arrays.logprob_b[t], b.lp[tok]);
        d(s.arrays.entropy_a[t], a.ent); d(s.arrays.entropy_b[t], b.ent);
        assert.equal(s.arrays.rank_a[t], a.rank); assert.equal(s.arrays.rank_b[t], b.rank);
        const kl = b.lp.reduce((acc, l, v) => acc + Math.exp(l) * (l - a.lp[v]), 0);
        worstKl = Math.max(worstKl, Math.abs(s.arrays.kl[t] - kl));
        for (let c = 0; c < 4; c++) {
          assert.equal(s.arrays.top_a_id[t * 4 + c], a.order[c][1]); d(s.arrays.top_a_logprob[t * 4 + c], a.order[c][0]);
          assert.equal(s.arrays.top_b_id[t * 4 + c], b.order[c][1]); d(s.arrays.top_b_logprob[t * 4 + c], b.order[c][0]);
        }
        sum += b.lp[tok] - a.lp[tok]; klSum += kl;
      });
      d(s.sumDelta, sum); worstKl = Math.max(worstKl, Math.abs(s.meanKl - klSum / it.completionIds.length));
    });
    console.log(`# T=${tau}: max |Δ| (log-prob, entropy, top-k, Σ Δ) = ${worst.toExponential(2)}, max |ΔKL| = ${worstKl.toExponential(2)}; ranks and top-k ids exact`);
    assert.ok(worst <= 1e-4, `max |Δ| = ${worst}`);
    assert.ok(worstKl <= 1e-4, `max |ΔKL| = ${worstKl}`);
    // risers / fallers: grouped by display string (#id here), means of B − A
    const all = new Map<string, number[]>();
    r.samples.forEach((s, i) => items[i].completionIds.forEach((tok, t) => { const k = `#${tok}`; all.set(k, [...(all.get(k) ?? []), s.arrays.logprob_b[t] - s.arrays.logprob_a[t]]); }));
    const top = r.risers[0] ?? r.fallers[0];
    const vals = all.get(top.token)!;
    assert.equal(top.count, vals.length);
    assert.ok(Math.abs(top.meanDelta - vals.reduce((x, y) => x + y, 0) / vals.length) < 1e-6);
  }
  // the same model twice: Δ = 0, KL = 0
  const same = await diffTokens(A, A, items, { batch: 2 });
  for (const s of same.samples) { assert.ok(Math.abs(s.sumDelta) < 1e-6); assert.ok(s.meanKl < 1e-6); }
  // cancel between batches
  let calls = 0;
  await assert.rejects(diffTokens(A, B, items, { batch: 1, shouldCancel: () => calls++ >= 2 }), (e: Error) => e instanceof DiffTokensCancelled && /after 2 of 4/.test(e.message));
  A.dispose(); B.dispose();
});

test('stories260K GRPO run: log-probs under checkpoint step s−1 equal the old_logprob the trainer wrote for step s (≤ 1e-4); s vs s: Δ = 0, KL = 0; the CLI on RUN_DIR:STEP', { skip: skipStories, timeout: 600_000 }, async () => {
  process.env.RL_LENS_MODELS = MODELS; process.env.HF_HOME = tmp(); process.env.HF_HUB_OFFLINE = '1';
  const dir = path.join(tmp(), 'run');
  const small = { backend: 'wasm', train: { steps: 2 }, eval: { every: 0 }, sampling: { maxNewTokens: 24, temperature: 0.8 }, checkpoint: { every: 1 }, rollouts: { every: 1, maxSamples: 8 }, rl: { promptsPerStep: 2, groupSize: 4 } };
  const res = await runTraining(resolveConfig(deepMerge(grpoStoriesPreset(), small)), { outDir: dir, progress: () => undefined });
  assert.equal(res.status, 'completed', res.error);
  const cks = listCheckpoints(dir);
  const ck1 = cks.find((c) => c.meta?.step === 1 && !c.meta.tag)?.dir ?? cks.find((c) => c.meta?.step === 1)!.dir;
  const ck2 = cks.find((c) => c.meta?.step === 2)!.dir;
  // the rollout of step 2 was sampled (and its old_logprob computed) by the policy after step 1 = checkpoint step 1
  const step = readRolloutStep(dir, 2);
  const tau = Number(step.header.params?.temperature);
  assert.equal(tau, 0.8, 'sampled at T = 0.8: the comparison must use the same temperature');
  const A = loadCheckpoint(ck1, { trainable: false }), B = loadCheckpoint(ck2, { trainable: false });
  const { items, temperature } = completionsFromRun(dir, 2, B.tokenizer);
  assert.equal(temperature, tau);
  const r = await diffTokens(A.model, B.model, items, { temperature: tau, batch: 3 });
  let worst = 0, n = 0;
  step.samples.forEach((s, i) => {
    const old = sampleArray(step, i, 'old_logprob')!;
    assert.equal(r.samples[i].length, old.length);
    for (let t = 0; t < old.length; t++) { worst = Math.max(worst, Math.abs(r.samples[i].arrays.logprob_a[t] - old[t])); n++; }
  });
  console.log(`# stories260K: ${n} tokens of step 2, max |logprob under step_1 − old_logprob| = ${worst.toExponential(2)} (T=${tau})`);
  assert.ok(n > 0 && worst <= 1e-4, `max |Δ| = ${worst}`);
  // at T = 1 the log-probs are those of another distribution: they do not match
  const t1 = await diffTokens(A.model, B.model, items, { temperature: 1 });
  let off = 0;
  step.samples.forEach((s, i) => { const old = sampleArray(step, i, 'old_logprob')!; for (let t = 0; t < old.length; t++) off = Math.max(off, Math.abs(t1.samples[i].arrays.logprob_a[t] - old[t])); });
  assert.ok(off > 1e-2, `T=1 differs from the sampling temperature's log-probs (max |Δ| ${off})`);
  const self = await diffTokens(A.model, A.model, items, { temperature: tau });
  for (const s of self.samples) { assert.ok(Math.abs(s.sumDelta) < 1e-5); assert.ok(s.meanKl < 1e-6); }
  A.model.dispose(); B.model.dispose();
  // through the checkpoint loader and the cache: the run's temperature by default
  const d = await diffCheckpoints(ck1, ck2, `${dir}:2`);
  assert.equal(d.summary.settings.temperature, tau);
  assert.equal(d.summary.source.kind, 'rollout'); assert.equal(d.summary.source.step, 2);
  assert.ok(Math.abs(d.summary.meanDelta - r.meanDelta) < 1e-6);
  const c = await captureOutput(() => cliRun([ck1, ck2, '--completions', dir]));
  assert.equal(c.code, 0, c.err);
  assert.match(c.out, /from .* step 2/); assert.match(c.out, /\(cached\)/);
});
