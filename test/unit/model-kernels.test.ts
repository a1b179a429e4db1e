// The fused kernels of the models against the plain tfjs ops they replace (wasm backend), values and gradients:
// attention (attention.ts: WebAssembly SIMD and JS row kernels vs batched matMuls + softmax; GQA, a KV-cache shape,
// left padding, fully masked rows), token log-probs and entropy (logprobs.ts vs logSoftmax), the embedding lookup
// (ops.ts embed vs one-hot · table) and rotary embeddings (llama.ts applyRope vs the pairwise formula).
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/trainer/backend';
import { attention, attentionOps, setAttentionKernels } from '../../src/trainer/model/attention';
import { attentionKernels } from '../../src/trainer/model/wasmKernels';
import { tokenLogprobs } from '../../src/trainer/model/logprobs';
import { applyRope } from '../../src/trainer/model/llama';
import { embed, mm, oneHotF32 } from '../../src/trainer/model/ops';

before(async () => { await initBackend('wasm'); });
after(() => { setAttentionKernels('wasm'); });

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

/** value and gradients (w.r.t. every input) of Σ f(inputs) · w for a fixed random w */
function valueAndGrads(f: (...x: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], seed = 7): tf.Tensor[] {
  const y = f(...inputs);
  const w = tf.randomNormal(y.shape, 0, 1, 'float32', seed);
  const g = tf.grads((...x: tf.Tensor[]) => tf.sum(tf.mul(f(...x), w)))(inputs);
  return [y, ...g];
}

test('attention: WebAssembly SIMD and JS kernels equal the unfused ops (GQA, cache-shaped keys, padding, fully masked rows), values and gradients', () => {
  assert.ok(attentionKernels(8), 'the SIMD kernels compile here');
  const B = 3, T = 7, Tk = 9, H = 4, K = 2, hd = 8, off = Tk - T;
  const q = tf.randomNormal([B, T, H, hd], 0, 1, 'float32', 1) as tf.Tensor4D;
  const k = tf.randomNormal([B, Tk, K * hd], 0, 1, 'float32', 2) as tf.Tensor3D;
  const v = tf.randomNormal([B, Tk, K * hd], 0, 1, 'float32', 3) as tf.Tensor3D;
  // causal over the last T keys; row 1 has 3 padded keys, so its first query sees no real key (fully masked)
  const bias = new Float32Array(B * T * Tk);
  for (let b = 0; b < B; b++) for (let i = 0; i < T; i++) for (let j = 0; j < Tk; j++) bias[(b * T + i) * Tk + j] = (j > i + off ? -1e9 : 0) + (b === 1 && j < 3 ? -1e9 : 0);
  for (const bt of [tf.tensor4d(bias, [B, 1, T, Tk]), undefined]) {
    const ref = valueAndGrads((a, b, c) => attentionOps(a as tf.Tensor4D, b as tf.Tensor3D, c as tf.Tensor3D, bt, K, 0.35), [q, k, v]);
    for (const kind of ['wasm', 'js'] as const) {
      setAttentionKernels(kind);
      const got = valueAndGrads((a, b, c) => attention(a as tf.Tensor4D, b as tf.Tensor3D, c as tf.Tensor3D, bt, K, 0.35), [q, k, v]);
      got.forEach((g, i) => assert.ok(maxDiff(g, ref[i]) < 1e-5, `${kind} ${['out', 'dq', 'dk', 'dv'][i]}${bt ? '' : ' (no bias)'}: ${maxDiff(g, ref[i])}`));
    }
  }
  // head size not a multiple of 4: the JS kernels
  setAttentionKernels('wasm');
  const q6 = tf.randomNormal([2, 5, 2, 6], 0, 1, 'float32', 4) as tf.Tensor4D, k6 = tf.randomNormal([2, 5, 12], 0, 1, 'float32', 5) as tf.Tensor3D;
  const causal = tf.tensor2d(Array.from({ length: 25 }, (_, x) => (x % 5 > Math.floor(x / 5) ? -1e9 : 0)), [5, 5]);
  const a = valueAndGrads((x, y) => attention(x as tf.Tensor4D, y as tf.Tensor3D, y as tf.Tensor3D, causal, 2, 0.4), [q6, k6]);
  const r = valueAndGrads((x, y) => attentionOps(x as tf.Tensor4D, y as tf.Tensor3D, y as tf.Tensor3D, causal, 2, 0.4), [q6, k6]);
  a.forEach((g, i) => assert.ok(maxDiff(g, r[i]) < 1e-5, `hd 6, output ${i}: ${maxDiff(g, r[i])}`));
});

test('token log-probs and entropy (fused, softmax-based) equal logSoftmax, values and gradients; temperature', () => {
  const B = 3, T = 6, V = 11;
  const logits = tf.mul(tf.randomNormal([B, T, V], 0, 1, 'float32', 8), 4) as tf.Tensor3D;
  const ids = tf.tensor2d([[1, 4, 2, 9, 10, 0], [3, 3, 3, 3, 3, 3], [0, 10, 5, 7, 1, 2]], [B, T], 'int32');
  for (const temperature of [1, 0.7]) {
    const fused = (z: tf.Tensor) => {
      const r = tokenLogprobs({ config: { vocabSize: V }, forward: () => ({ logits: z as tf.Tensor3D }) }, ids, { entropy: true, temperature });
      return tf.stack([r.logprobs, r.entropy!]);
    };
    const plain = (z: tf.Tensor) => {
      const lp = tf.logSoftmax(tf.div(tf.slice(z, [0, 0, 0], [B, T - 1, V]), temperature));
      const oh = tf.reshape(oneHotF32(tf.reshape(tf.slice(ids, [0, 1], [B, T - 1]), [-1]) as tf.Tensor1D, V), [B, T - 1, V]);
      return tf.stack([tf.sum(tf.mul(lp, oh), 2), tf.neg(tf.sum(tf.mul(tf.exp(lp), lp), 2))]);
    };
    const [a, ga] = valueAndGrads(fused, [logits]), [b, gb] = valueAndGrads(plain, [logits]);
    assert.ok(maxDiff(a, b) < 1e-5, `τ ${temperature} values: ${maxDiff(a, b)}`);
    assert.ok(maxDiff(ga, gb) < 1e-5, `τ ${temperature} gradients: ${maxDiff(ga, gb)}`);
  }
});

test('embedding lookup equals one-hot · table, with the table gradient summed over repeated ids', () => {
  const table = tf.randomNormal([7, 5], 0, 1, 'float32', 9) as tf.Tensor2D;
  const ids = tf.tensor1d([3, 0, 3, 6, 3, 1], 'int32');
  const [a, ga] = valueAndGrads((t) => embed(ids, t as tf.Tensor2D), [table]);
  const [b, gb] = valueAndGrads((t) => mm(oneHotF32(ids, 7), t), [table]);
  assert.ok(maxDiff(a, b) < 1e-6 && maxDiff(ga, gb) < 1e-5, `${maxDiff(a, b)} ${maxDiff(ga, gb)}`);
});

test('rotary embedding (signed-permutation matMul) equals the pairwise formula in both layouts', () => {
  const [B, T, Hh, hd] = [2, 3, 2, 8];
  const x = tf.randomNormal([B, T, Hh, hd], 0, 1, 'float32', 10) as tf.Tensor4D;
  const ang = Array.from({ length: T * (hd / 2) }, (_, i) => 0.3 * (i + 1));
  const cosH = ang.map(Math.cos), sinH = ang.map(Math.sin);
  for (const layout of ['interleaved', 'half'] as const) {
    const pair = (i: number) => (layout === 'half' ? [i, i + hd / 2] : [2 * i, 2 * i + 1]);
    const full = (tab: number[]) => { const o = new Float32Array(T * hd); for (let t = 0; t < T; t++) for (let i = 0; i < hd / 2; i++) for (const d of pair(i)) o[t * hd + d] = tab[t * (hd / 2) + i]; return tf.tensor4d(o, [1, T, 1, hd]); };
    const got = applyRope(x, full(cosH), full(sinH), layout).arraySync() as number[][][][];
    const xs = x.arraySync() as number[][][][];
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let h = 0; h < Hh; h++) for (let i = 0; i < hd / 2; i++) {
      const [ia, ib] = pair(i), c = cosH[t * (hd / 2) + i], s = sinH[t * (hd / 2) + i];
      const a = xs[b][t][h][ia], bb = xs[b][t][h][ib];
      assert.ok(Math.abs(got[b][t][h][ia] - (a * c - bb * s)) < 1e-5 && Math.abs(got[b][t][h][ib] - (a * s + bb * c)) < 1e-5, `${layout} b${b} t${t} h${h} pair ${i}`);
    }
  }
});
