// The llama family on the wasm backend: stories260K (../shared/models, read in place, never copied) reproduces its
// documented greedy story; logits and tokenizer equal an independent float64 Python reference
// (test/fixtures/llama2c_ref.py, written from the format description); both rotary layouts give the same model;
// KV-cache decoding equals full recompute; gradients match finite differences; no tensor leaks.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/trainer/backend';
import { Llama, type LlamaConfig } from '../../src/trainer/model/llama';
import { parseLlama2c, readLlama2c, toHalfRopeLayout } from '../../src/trainer/model/llama2c';
import { Llama2cTokenizer } from '../../src/trainer/tokenizers/llama2c';

const SHARED = path.resolve(__dirname, '../../../shared/models/stories260K');
const BIN = path.join(SHARED, 'stories260K.bin'), TOK = path.join(SHARED, 'tok512.bin');
const have = fs.existsSync(BIN) && fs.existsSync(TOK);
const skip = have ? false : `${SHARED} not present`;
const python = spawnSync('python3', ['--version']).status === 0;

before(async () => { await initBackend('wasm'); });

/**
 * llama2.c doc/stories260K.md (karpathy/llama2.c, commit 1386edfd), "Sampling this model at temperature 0.0 (i.e.
 * deterministic greedy argmax sampling) gives:" `./run stories260K/stories260K.bin -z stories260K/tok512.bin -t 0.0`
 * (run.c: 256 steps from BOS).
 */
const DOCUMENTED = 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\n'
  + 'Lily\'s mom said, "Lily, let\'s go to the park." Lily was sad and didn\'t know what to do. She said, "I want to play with your ball, but I can\'t find it."\n'
  + 'Lily was sad and didn\'t know what to do. She said, "I\'m sorry, Lily. I didn\'t know what to do."\n'
  + 'Lily didn\'t want to help her mom, so she said, "I\'m sorry, mom. I didn\'t know what to do." Her mom said, "Don\'t worry, Lily. We can help you.';

function argmax(d: ArrayLike<number>): number { let b = 0; for (let i = 1; i < d.length; i++) if (d[i] > d[b]) b = i; return b; }

test('stories260K: greedy decoding from BOS for 256 tokens is the story llama2.c documents, word for word', { skip }, () => {
  const ck = readLlama2c(BIN);
  assert.deepEqual([ck.config.dModel, ck.config.hiddenDim, ck.config.nLayers, ck.config.nHeads, ck.config.nKvHeads, ck.config.vocabSize, ck.config.contextLength, ck.config.tieEmbeddings], [64, 172, 5, 8, 4, 512, 512, true]);
  const m = Llama.fromWeights(ck.config, ck.weights, false);
  const tok = Llama2cTokenizer.fromFile(TOK, ck.config.vocabSize);
  tf.dispose(m.prefill([[tok.bos]]).logits); // warm-up: the model keeps its causal mask for T = 1 (a cache, not a leak)
  const before0 = tf.memory().numTensors;
  const { cache, logits } = m.prefill([[tok.bos]]);
  let l = logits;
  const out: number[] = [];
  for (let i = 0; i < 256; i++) {
    const next = argmax(l.dataSync());
    l.dispose();
    if (next === tok.bos) break; // run.c stops on BOS
    out.push(next);
    if (i < 255) l = m.decodeStep(cache, [next]).logits;
  }
  Llama.disposeCache(cache);
  assert.equal(tf.memory().numTensors, before0, 'decoding leaves no tensor behind');
  assert.equal(out.length, 256);
  assert.equal(tok.decode(out), DOCUMENTED);
  assert.ok(m.parameterCount() > 250_000 && m.parameterCount() < 300_000, `${m.parameterCount()} parameters`);
  m.dispose();
});

test('stories260K: logits equal an independent float64 Python forward (≤ 1e-4), in both rotary layouts; tokenizer equals its encoder', { skip: skip || (!python && 'python3 not installed') }, () => {
  const tok = Llama2cTokenizer.fromFile(TOK, 512);
  const texts = ['Once upon a time, there was a dog.', 'Lily said, "Hi!"\nTom smiled.', 'naïve café — 你好 🙂 ok', ' two  spaces', ''];
  const ids = [1, 403, 407, 261, 378, 270, 13, 300]; // BOS + a few pieces
  const r = spawnSync('python3', [path.join(__dirname, '../fixtures/llama2c_ref.py'), BIN, TOK], { input: JSON.stringify({ logits_for: ids, encode: texts }), encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  const ref = JSON.parse(r.stdout) as { logits: number[][]; encode: number[][] };
  // tokenizer
  texts.forEach((t, i) => assert.deepEqual(tok.encode(t, { bos: true }), ref.encode[i], `encode ${JSON.stringify(t)}`));
  // logits, interleaved (.bin as is) and rotate-half (HF's permuted q/k)
  const ck = readLlama2c(BIN);
  for (const variant of [ck, toHalfRopeLayout(ck)]) {
    const m = Llama.fromWeights(variant.config, variant.weights, false);
    const got = tf.tidy(() => m.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).logits.arraySync()[0]);
    let worst = 0;
    got.forEach((row, p) => row.forEach((v, k) => { worst = Math.max(worst, Math.abs(v - ref.logits[p][k])); }));
    assert.ok(worst <= 1e-4, `${variant.config.ropeLayout}: max |Δlogit| = ${worst}`);
    console.log(`# ${variant.config.ropeLayout} rotary layout: max |Δlogit| vs float64 Python = ${worst.toExponential(2)}`);
    m.dispose();
  }
});

test('llama2.c tokenizer: encode/decode round trip on arbitrary UTF-8 (CJK and emoji through byte fallback)', { skip }, () => {
  const tok = Llama2cTokenizer.fromFile(TOK, 512);
  for (const s of ['Once upon a time.', '你好，世界', '🙂🚀 e\u0301 \u{1F600}', 'tabs\tand\nnewlines', ' leading space', 'Ω≈ç√∫']) {
    const ids = tok.encode(s, { bos: true });
    assert.equal(tok.decode(ids), s, JSON.stringify(s));
  }
  assert.ok(tok.encode('你', { bos: false }).some((id) => id >= 3 && id < 259), 'a CJK character outside the 512 pieces falls back to bytes');
});

test('llama2.c files: clear errors for a truncated checkpoint and a tokenizer of another vocabulary', { skip }, () => {
  const bytes = new Uint8Array(fs.readFileSync(BIN));
  assert.throws(() => parseLlama2c(bytes.subarray(0, 5000), 'cut.bin'), /cut\.bin: 5000 bytes, but the header \(dim 64, .*\) needs 1056540/);
  assert.throws(() => parseLlama2c(new Uint8Array(10), 'tiny.bin'), /tiny\.bin: 10 bytes, too short/);
  assert.throws(() => Llama2cTokenizer.fromFile(TOK, 32000), /has 512 pieces but the model's vocab_size is 32000/);
});

const tiny: LlamaConfig = { vocabSize: 11, contextLength: 12, dModel: 16, hiddenDim: 24, nLayers: 2, nHeads: 4, nKvHeads: 2, qkvBias: true, valueHead: true };

test('KV-cache decoding equals full recompute (log-probs ≤ 1e-4), left padding included; GQA + q/k/v biases', () => {
  for (const layout of ['interleaved', 'half'] as const) {
    const m = Llama.create({ ...tiny, ropeLayout: layout }, 3);
    const prompts = [[0, 0, 5, 6, 7], [1, 2, 3, 4, 5]];
    const mask = [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]];
    const next = [[8, 9, 1], [2, 10, 4]];
    const { cache, logits } = m.prefill(prompts, mask);
    const steps = [tf.logSoftmax(logits).arraySync() as number[][]];
    logits.dispose();
    for (let s = 0; s < next[0].length; s++) {
      const o = m.decodeStep(cache, next.map((r) => r[s]));
      steps.push(tf.tidy(() => tf.logSoftmax(o.logits).arraySync() as number[][]));
      o.logits.dispose(); o.values?.dispose();
    }
    Llama.disposeCache(cache);
    const full = prompts.map((p, b) => [...p, ...next[b]]);
    const fm = full.map((row, b) => [...mask[b], 1, 1, 1]);
    const lp = tf.tidy(() => tf.logSoftmax(m.forward(tf.tensor2d(full, undefined, 'int32'), { attentionMask: tf.tensor2d(fm) }).logits).arraySync() as number[][][]);
    let worst = 0;
    steps.forEach((st, s) => st.forEach((row, b) => row.forEach((v, k) => { worst = Math.max(worst, Math.abs(v - lp[b][4 + s][k])); })));
    assert.ok(worst <= 1e-4, `${layout}: max |Δ log-prob| = ${worst}`);
    console.log(`# ${layout}: KV cache vs full recompute, max |Δ log-prob| = ${worst.toExponential(2)}`);
    m.dispose();
  }
});

test('gradients of a tiny llama equal central finite differences (float32, relative 2e-2); no tensor leaks across steps', () => {
  const m = Llama.create({ ...tiny, valueHead: false }, 7);
  const ids = tf.tensor2d([[1, 4, 7, 2, 9, 3], [5, 5, 8, 10, 0, 6]], undefined, 'int32');
  const loss = () => tf.neg(tf.mean(m.tokenLogprobs(ids).logprobs)) as tf.Scalar;
  const names = ['model.layers.0.self_attn.q_proj.weight', 'model.layers.1.self_attn.k_proj.bias', 'model.layers.1.mlp.gate_proj.weight', 'model.norm.weight', 'model.embed_tokens.weight'];
  const vars = names.map((n) => m.w(n));
  tf.tidy(() => { loss(); }); // warm-up: the model keeps its causal mask for this T
  const n0 = tf.memory().numTensors;
  const { grads, value } = tf.variableGrads(loss, vars);
  value.dispose();
  for (const name of names) {
    const v = m.w(name), g = grads[v.name].dataSync();
    const data = v.dataSync().slice();
    // the 3 largest-gradient entries: their finite differences are well above float32 noise
    const idx = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a])).slice(0, 3);
    for (const i of idx) {
      const h = 1e-2;
      const at = (d: number) => { const c = data.slice(); c[i] += d; tf.tidy(() => v.assign(tf.tensor(c, v.shape))); return tf.tidy(() => loss().dataSync()[0]); };
      const fd = (at(h) - at(-h)) / (2 * h);
      tf.tidy(() => v.assign(tf.tensor(data, v.shape)));
      assert.ok(Math.abs(fd - g[i]) <= 2e-2 * Math.abs(g[i]) + 1e-4, `${name}[${i}]: autodiff ${g[i]} vs finite difference ${fd}`);
    }
  }
  tf.dispose(Object.values(grads));
  assert.equal(tf.memory().numTensors, n0, 'no tensors left after a gradient step');
  ids.dispose();
  m.dispose();
});

test('Llama.fromWeights names a missing or misshapen tensor', () => {
  const m = Llama.create(tiny, 1);
  const w = m.getWeights();
  m.dispose();
  const { ['model.norm.weight']: _gone, ...rest } = w;
  assert.throws(() => Llama.fromWeights(tiny, rest, true, 'x.safetensors'), /tensor model\.norm\.weight missing from x\.safetensors/);
  assert.throws(() => Llama.fromWeights(tiny, { ...w, 'model.norm.weight': { shape: [3], data: new Float32Array(3) } }), /model\.norm\.weight .* has shape \[3\] but the config needs \[16\]/);
  void _gone;
});

test('llama2.c display strings: byte pieces as the characters they make, joining to the decoded text (newline, é, 😀)', { skip }, () => {
  const tok = Llama2cTokenizer.fromFile(path.join(SHARED, 'tok512.bin'));
  for (const text of ['Lily\nsmiled', 'café', 'a 😀 b']) {
    const ids = tok.encode(text, { bos: false });
    const shown = tok.display(ids);
    assert.equal(shown.length, ids.length);
    assert.ok(!shown.some((x) => /^<0x/.test(x)), JSON.stringify(shown));
    assert.equal(shown.join('').replace(/^ /, ''), text, JSON.stringify(shown));
  }
  // by hand: "\n" is the byte piece <0x0A> (id 3 + 0x0A = 13), shown as a newline
  assert.deepEqual(tok.display([13]), ['\n']);
  // a lone continuation byte starts no sequence: its <0xHH> name stays
  assert.deepEqual(tok.display([3 + 0x80]), ['<0x80>']);
});
