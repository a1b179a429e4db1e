// Model, sampling, gradients, memory and checkpoints on the wasm backend (the backend users get without tfjs-node).
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/trainer/backend';
import { GPT } from '../../src/trainer/model/gpt';
import { mm } from '../../src/trainer/model/ops';
import { generate } from '../../src/trainer/sampling';
import { AdamW, clipByGlobalNorm } from '../../src/trainer/optim';
import { decodeSafetensors, encodeSafetensors, loadCheckpoint, saveCheckpoint } from '../../src/trainer/checkpoint';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { Rng } from '../../src/trainer/rng';

before(async () => { await initBackend('wasm'); });

const small = { vocabSize: 12, contextLength: 16, dModel: 16, nHeads: 2, nLayers: 2, valueHead: true };

function randIds(rng: Rng, B: number, T: number, V: number): number[][] {
  return Array.from({ length: B }, () => Array.from({ length: T }, () => 3 + rng.int(V - 3)));
}

test('forward shapes, parameter count and FLOPs estimate (hand-computed)', () => {
  const m = GPT.create(small, 1);
  const ids = tf.tensor2d(randIds(new Rng(1), 3, 7, 12), undefined, 'int32');
  const out = m.forward(ids, { values: true });
  assert.deepEqual(out.logits.shape, [3, 7, 12]);
  assert.deepEqual(out.values!.shape, [3, 7]);
  const lp = m.tokenLogprobs(ids, { entropy: true, values: true });
  assert.deepEqual(lp.logprobs.shape, [3, 6]);
  assert.deepEqual(lp.entropy!.shape, [3, 6]);
  const r = m.responseLogprobs(ids, 4, {});
  assert.deepEqual(r.logprobs.shape, [3, 3]);
  // D=16, V=12, ctx=16, F=64, L=2: wte 192 + wpe 256 + per layer (2·16 + 16·48+48 + 16·16+16 + 2·16 + 16·64+64 + 64·16+16 = 3280) ×2
  // + ln_f 32 + lm_head 192 + value head 17 = 7249
  assert.equal(m.parameterCount(), 192 + 256 + 2 * 3280 + 32 + 192 + 17);
  // forward FLOPs/token at T=16: 2·(2·(16·48 + 16·16 + 16·64 + 64·16) + 16·12 + 16) + 2·2·16·16 = 2·(2·3072 + 208) + 1024
  assert.equal(m.flopsPerToken(16), 2 * (2 * 3072 + 208) + 1024);
  tf.dispose([ids, out.logits, out.values!, lp.logprobs, lp.entropy!, lp.values!, r.logprobs]);
  m.dispose();
});

test('log-probs are a normalised distribution: logsumexp over the vocab of log-softmax = 0', () => {
  const m = GPT.create(small, 2);
  const ids = tf.tensor2d(randIds(new Rng(2), 2, 5, 12), undefined, 'int32');
  const lse = tf.tidy(() => tf.logSumExp(tf.logSoftmax(m.forward(ids).logits), -1).dataSync());
  for (const v of lse) assert.ok(Math.abs(v) < 1e-5, `logsumexp ${v}`);
  ids.dispose();
  m.dispose();
});

test('KV-cache decoding gives the same log-probs / entropy / values as full recompute (tol 1e-4), with left padding', () => {
  const m = GPT.create({ ...small, contextLength: 24 }, 3);
  const prompts = [[1, 5, 6, 7], [1, 8], [1, 9, 10, 11, 4, 3]];
  for (const temperature of [1, 0.7, 0]) {
    const g = generate(m, prompts, { maxNewTokens: 10, temperature, seed: 5, values: true, stopAtEos: true });
    const r = tf.tidy(() => {
      const o = m.responseLogprobs(tf.tensor2d(g.ids, undefined, 'int32'), g.promptLength, { attentionMask: tf.tensor2d(g.attentionMask), temperature: g.temperature, entropy: true, values: true });
      return [o.logprobs.arraySync(), o.entropy!.arraySync(), o.values!.arraySync()] as number[][][];
    });
    let n = 0;
    g.tokens.forEach((toks, b) => toks.forEach((_, i) => {
      n++;
      assert.ok(Math.abs(r[0][b][i] - g.logprobs[b][i]) < 1e-4, `logprob b${b} i${i}: ${r[0][b][i]} vs ${g.logprobs[b][i]}`);
      assert.ok(Math.abs(r[1][b][i] - g.entropy[b][i]) < 1e-4, `entropy b${b} i${i}`);
      assert.ok(Math.abs(r[2][b][i] - g.values![b][i]) < 1e-4, `value b${b} i${i}`);
    }));
    assert.ok(n >= 10, 'compared enough tokens');
  }
  m.dispose();
});

test('a left-padded row computes what the unpadded row computes', () => {
  const m = GPT.create(small, 4);
  const row = [1, 4, 5, 6, 7];
  const a = tf.tidy(() => m.tokenLogprobs(tf.tensor2d([row], undefined, 'int32')).logprobs.arraySync()[0]);
  const b = tf.tidy(() => m.tokenLogprobs(tf.tensor2d([[0, 0, 0, ...row]], undefined, 'int32'), { attentionMask: tf.tensor2d([[0, 0, 0, 1, 1, 1, 1, 1]]) }).logprobs.arraySync()[0].slice(3));
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-5, `pos ${i}: ${v} vs ${b[i]}`));
  m.dispose();
});

test('greedy decoding picks the argmax and is reproducible; sampling is seeded', () => {
  const m = GPT.create(small, 5);
  const p = [[1, 4, 5], [1, 6]];
  const g1 = generate(m, p, { maxNewTokens: 6, temperature: 0 });
  const g2 = generate(m, p, { maxNewTokens: 6, temperature: 0 });
  assert.deepEqual(g1.tokens, g2.tokens);
  // greedy token = argmax of the full-recompute distribution
  const lp = tf.tidy(() => m.forward(tf.tensor2d([[1, 4, 5]], undefined, 'int32')).logits.arraySync()[0][2]);
  const allowed = lp.map((v, i) => (i < 2 ? -Infinity : v));
  assert.equal(g1.tokens[0][0], allowed.indexOf(Math.max(...allowed)));
  const s1 = generate(m, p, { maxNewTokens: 6, temperature: 1, seed: 9 });
  const s2 = generate(m, p, { maxNewTokens: 6, temperature: 1, seed: 9 });
  const s3 = generate(m, p, { maxNewTokens: 6, temperature: 1, seed: 10 });
  assert.deepEqual(s1.tokens, s2.tokens);
  assert.notDeepEqual([s1.tokens, s1.logprobs], [s3.tokens, s3.logprobs]);
  m.dispose();
});

test('custom matMul gradient (explicit transposes) equals the analytic gradient computed by hand', () => {
  // y = sum(W ⊙ (A·B)) → dA = W·Bᵀ, dB = Aᵀ·W (computed here with plain JS loops)
  const rng = new Rng(7);
  const M = 3, K = 4, N = 2;
  const A = Array.from({ length: M }, () => Array.from({ length: K }, () => rng.normal()));
  const B = Array.from({ length: K }, () => Array.from({ length: N }, () => rng.normal()));
  const W = Array.from({ length: M }, () => Array.from({ length: N }, () => rng.normal()));
  const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(mm(a, b), tf.tensor2d(W))));
  const [dA, dB] = g([tf.tensor2d(A), tf.tensor2d(B)]).map((t) => t.arraySync() as number[][]);
  for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) {
    let s = 0; for (let j = 0; j < N; j++) s += W[i][j] * B[k][j];
    assert.ok(Math.abs(dA[i][k] - s) < 1e-5);
  }
  for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) {
    let s = 0; for (let i = 0; i < M; i++) s += A[i][k] * W[i][j];
    assert.ok(Math.abs(dB[k][j] - s) < 1e-5);
  }
});

test('finite-difference gradient check of the whole model (float32, central differences)', () => {
  // Loss = Σ c·logprobs + Σ d·values with fixed random c, d. Central differences with h = 1e-2 in float32:
  // truncation error O(h²·f''') ≈ 1e-4·|f'''|, round-off ≈ ε32·|f|/h ≈ 6e-8·|f|/1e-2 ≈ 1e-4 for |f| ≈ 20.
  // So we require |g_fd − g| ≤ 0.05·max(|g|, |g_fd|) + 3e-3 (5% relative + absolute floor above both error terms).
  const m = GPT.create({ vocabSize: 8, contextLength: 6, dModel: 8, nHeads: 2, nLayers: 1, valueHead: true }, 11);
  const rng = new Rng(3);
  const ids = tf.tensor2d(randIds(rng, 2, 6, 8), undefined, 'int32');
  const mask = tf.tensor2d([[0, 0, 1, 1, 1, 1], [0, 1, 1, 1, 1, 1]]);
  const c = tf.tensor2d(Array.from({ length: 2 }, () => Array.from({ length: 5 }, () => rng.normal())));
  const d = tf.tensor2d(Array.from({ length: 2 }, () => Array.from({ length: 5 }, () => rng.normal())));
  const lossFn = () => tf.tidy(() => {
    const r = m.tokenLogprobs(ids, { attentionMask: mask, values: true });
    return tf.add(tf.sum(tf.mul(r.logprobs, c)), tf.sum(tf.mul(r.values!, d))) as tf.Scalar;
  });
  const vars = m.trainableVariables();
  const { value, grads } = tf.variableGrads(lossFn, vars);
  value.dispose();
  const h = 1e-2;
  let checked = 0, maxRel = 0;
  for (const v of vars) {
    const g = grads[v.name].dataSync();
    const base = v.dataSync().slice();
    for (let rep = 0; rep < 3; rep++) {
      const i = rng.int(base.length);
      const at = (delta: number) => { const w = base.slice(); w[i] += delta; v.assign(tf.tensor(w, v.shape)); const l = lossFn(); const x = l.dataSync()[0]; l.dispose(); return x; };
      const fd = (at(h) - at(-h)) / (2 * h);
      v.assign(tf.tensor(base, v.shape));
      const err = Math.abs(fd - g[i]);
      const scale = Math.max(Math.abs(fd), Math.abs(g[i]));
      assert.ok(err <= 0.05 * scale + 3e-3, `${v.name}[${i}]: analytic ${g[i]} vs finite difference ${fd}`);
      if (scale > 0.05) maxRel = Math.max(maxRel, err / scale);
      checked++;
    }
  }
  assert.ok(checked >= 3 * vars.length);
  assert.ok(maxRel < 0.05, `max relative error ${maxRel}`);
  tf.dispose([ids, mask, c, d, ...Object.values(grads)]);
  m.dispose();
});

test('no tensor leak: numTensors is stable across training steps and sampling', () => {
  const m = GPT.create(small, 6);
  const ref = m.clone(false);
  const opt = new AdamW(m.trainableVariables(), { weightDecay: 0.01 });
  const rng = new Rng(1);
  const step = () => {
    const ids = tf.tensor2d(randIds(rng, 4, 8, 12), undefined, 'int32');
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.neg(tf.mean(m.tokenLogprobs(ids, { entropy: true }).logprobs))) as tf.Scalar, m.trainableVariables());
    const { grads: cg } = clipByGlobalNorm(grads, 1);
    opt.apply(cg, 1e-3);
    tf.dispose([ids, value, ...Object.values(grads), ...Object.values(cg)]);
    generate(m, [[1, 4], [1, 5, 6]], { maxNewTokens: 4, temperature: 1, seed: 1, values: true });
    tf.tidy(() => { ref.tokenLogprobs(tf.tensor2d([[1, 4, 5]], undefined, 'int32')).logprobs.dataSync(); });
  };
  step(); step();
  const n0 = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) step();
  assert.equal(tf.memory().numTensors, n0);
  opt.dispose(); ref.dispose(); m.dispose();
});

test('clone is frozen and independent; copyWeightsFrom syncs', () => {
  const m = GPT.create(small, 8);
  const ref = m.clone(false);
  assert.equal(ref.trainableVariables().length, 0);
  const ids = tf.tensor2d([[1, 4, 5, 6]], undefined, 'int32');
  const f = (x: GPT) => tf.tidy(() => Array.from(x.tokenLogprobs(ids).logprobs.dataSync()));
  assert.deepEqual(f(ref), f(m));
  m.w('h.0.mlp.c_fc.weight').assign(tf.mul(m.w('h.0.mlp.c_fc.weight'), 3));
  assert.notDeepEqual(f(ref), f(m));
  ref.copyWeightsFrom(m);
  assert.deepEqual(f(ref), f(m));
  ids.dispose(); ref.dispose(); m.dispose();
});

test('checkpoint: safetensors save/load gives identical outputs; Python reads the file (struct + json + numpy)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-ckpt-'));
  const m = GPT.create(small, 9);
  const tok = new CharTokenizer();
  const ck = saveCheckpoint(path.join(dir, 'step_00000005'), m, { step: 5, algorithm: 'sft', time: new Date().toISOString(), config: {}, tokenizer: tok.spec() });
  assert.ok(fs.existsSync(path.join(ck, 'checkpoint.json')));
  assert.deepEqual(fs.readdirSync(dir), ['step_00000005'], 'no temporary folder left');
  const { model } = loadCheckpoint(ck);
  const ids = tf.tensor2d([[1, 4, 5, 6, 7, 8]], undefined, 'int32');
  const a = tf.tidy(() => Array.from(m.forward(ids, { values: true }).logits.dataSync()));
  const b = tf.tidy(() => Array.from(model.forward(ids, { values: true }).logits.dataSync()));
  assert.deepEqual(a, b, 'bit-identical logits after the round trip');
  // header + data in the documented layout, read independently by Python
  const py = `
import json, struct, sys
import numpy as np
raw = open(sys.argv[1], 'rb').read()
(n,) = struct.unpack('<Q', raw[:8])
assert (8 + n) % 8 == 0
header = json.loads(raw[8:8 + n])
out = {}
for name, info in header.items():
    if name == '__metadata__':
        continue
    b, e = info['data_offsets']
    arr = np.frombuffer(raw[8 + n + b: 8 + n + e], dtype='<f4').reshape(info['shape'])
    out[name] = [list(arr.shape), float(arr.astype(np.float64).sum()), float(arr.reshape(-1)[0]) if arr.size else 0.0]
print(json.dumps({'meta': header['__metadata__'], 'tensors': out}))
`;
  const r = spawnSync('python3', ['-c', py, path.join(ck, 'model.safetensors')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout) as { meta: Record<string, string>; tensors: Record<string, [number[], number, number]> };
  assert.equal(got.meta.format, 'pt');
  const w = m.getWeights();
  assert.deepEqual(Object.keys(got.tensors).sort(), Object.keys(w).sort());
  for (const [name, { shape, data }] of Object.entries(w)) {
    const [pshape, psum, pfirst] = got.tensors[name];
    assert.deepEqual(pshape, shape, name);
    let s = 0; for (const x of data) s += x;
    assert.ok(Math.abs(psum - s) < 1e-6 * Math.max(1, Math.abs(s)) + 1e-9, `${name} sum ${psum} vs ${s}`);
    assert.equal(pfirst, data[0]);
  }
  // encode/decode unit round trip with an odd-sized header (padding)
  const rt = decodeSafetensors(encodeSafetensors({ x: { shape: [3], data: new Float32Array([1, -2, 3.5]) } }, { a: 'b' }));
  assert.deepEqual(Array.from(rt.weights.x.data), [1, -2, 3.5]);
  assert.deepEqual(rt.metadata, { a: 'b' });
  ids.dispose(); model.dispose(); m.dispose();
});
