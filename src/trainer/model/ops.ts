/**
 * Tensor building blocks that train fast on every backend, including tfjs-backend-wasm:
 * - `mm`: matMul whose gradient uses explicit transposes + plain matMul. On wasm (tfjs 4.22, this machine) a matMul with
 *   transposeA/transposeB is 9-28× slower than a plain one (measured: [2048,128]ᵀ·[2048,128]: 27.9 ms with transposeA vs
 *   3.1 ms with an explicit transpose), and tfjs' own MatMul gradient uses transposeA/B.
 * - `embed`: gather forward, its gradient summed on the host (gather's own gradient needs UnsortedSegmentSum, absent
 *   on wasm). `oneHotF32`: oneHot is made int32 then cast: `tf.oneHot(..., 'float32')` returns int32 bit patterns on wasm.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';

/** Swap the last two axes (explicit transpose). */
export function swapLast(x: tf.Tensor): tf.Tensor {
  const r = x.rank;
  const perm = [...Array(r).keys()];
  perm[r - 1] = r - 2;
  perm[r - 2] = r - 1;
  return tf.transpose(x, perm);
}

/**
 * a·b for a [..., M, K], b [..., K, N] (same batch dims, or b rank 2 with a rank 2).
 * Gradient: dA = dY·bᵀ, dB = aᵀ·dY, with explicit transposes (see file comment).
 */
export const mm = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const a = args[0] as tf.Tensor, b = args[1] as tf.Tensor, save = args[2] as tf.GradSaveFunc;
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor;
      const [sa, sb] = saved;
      // each in its own tidy: the transposed operand (and the packed copy XNNPACK caches for a matMul's right-hand
      // side until that tensor is disposed) is freed at once, not at the end of the whole backward pass
      return [tf.tidy(() => tf.matMul(g as tf.Tensor2D, swapLast(sb) as tf.Tensor2D)), tf.tidy(() => tf.matMul(swapLast(sa) as tf.Tensor2D, g as tf.Tensor2D))];
    },
  };
}) as Parameters<typeof tf.customGrad>[0]) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** One-hot rows as float32 (int32 oneHot, then cast: see file comment). ids: int32 [N] → [N, depth]. */
export function oneHotF32(ids: tf.Tensor1D, depth: number): tf.Tensor2D {
  return tf.cast(tf.oneHot(ids, depth), 'float32') as tf.Tensor2D;
}

/**
 * Embedding lookup table[ids] (differentiable w.r.t. table on every backend). ids [N] → [N, D].
 * Forward: gather. Gradient: the rows of dy summed into their ids on the host (tfjs-backend-wasm has no
 * UnsortedSegmentSum, gather's gradient); ids that are out of range give zero rows, as the one-hot product did.
 * It replaces oneHot(ids)·table, whose product and gradient cost 2·N·V·D FLOPs each (for GPT-2's 50257 × 768 table
 * on 512 tokens: 40 GFLOP forward, 80 backward) where a lookup copies N·D numbers.
 */
export function embed(ids: tf.Tensor1D, table: tf.Tensor2D): tf.Tensor2D {
  const [V, D] = table.shape;
  const idx = ids.dataSync();
  const inRange = Array.prototype.every.call(idx, (i: number) => i >= 0 && i < V);
  return tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const t = args[0] as tf.Tensor2D;
    const value = inRange ? tf.gather(t, ids) : tf.mul(tf.gather(t, tf.clipByValue(ids, 0, V - 1)), tf.reshape(tf.cast(tf.logicalAnd(tf.greaterEqual(ids, 0), tf.less(ids, V)), 'float32'), [-1, 1]));
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[]) => {
        const g = (dy as tf.Tensor).dataSync() as Float32Array;
        const acc = new Float32Array(V * D);
        for (let i = 0; i < idx.length; i++) {
          const r = idx[i];
          if (!(r >= 0 && r < V)) continue;
          const o = r * D, s = i * D;
          for (let j = 0; j < D; j++) acc[o + j] += g[s + j];
        }
        return [tf.tensor2d(acc, [V, D])];
      },
    };
  }) as Parameters<typeof tf.customGrad>[0])(table) as tf.Tensor2D;
}

/** Column sums of g [N, D] as a plain matMul 1ᵀ·g (wasm reduces over axis 0 by transposing first: ~5× slower). */
function colSum(g: tf.Tensor): tf.Tensor1D {
  const d = g.shape[g.rank - 1]!;
  const g2 = tf.reshape(g, [-1, d]) as tf.Tensor2D;
  return tf.reshape(tf.matMul(tf.ones([1, g2.shape[0]]) as tf.Tensor2D, g2), [d]) as tf.Tensor1D;
}

/** x + b (b broadcast over rows), x [N, D], b [D]; gradient db = 1ᵀ·dy (see colSum). */
export const addBias = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor, b = args[1] as tf.Tensor;
  return { value: tf.add(x, b), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => [dy as tf.Tensor, colSum(dy as tf.Tensor)] };
}) as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** x̂·γ + β for x̂ [N, D], γ, β [D]; gradients dx̂ = dy·γ, dγ = 1ᵀ·(dy·x̂), dβ = 1ᵀ·dy. */
export const affine = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const xh = args[0] as tf.Tensor, g = args[1] as tf.Tensor, b = args[2] as tf.Tensor, save = args[3] as tf.GradSaveFunc;
  save([xh, g]);
  return {
    value: tf.add(tf.mul(xh, g), b),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const d = dy as tf.Tensor;
      return [tf.mul(d, saved[1]), colSum(tf.mul(d, saved[0])), colSum(d)];
    },
  };
}) as Parameters<typeof tf.customGrad>[0]) as (xh: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** x·W + b for x [N, Din], W [Din, Dout], b [Dout]. */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  const y = mm(x, w) as tf.Tensor2D;
  return b ? (addBias(y, b) as tf.Tensor2D) : y;
}

/** LayerNorm over the last axis: (x − μ)/√(σ² + ε)·γ + β (Ba et al. 2016). x [..., D]. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = 1e-5): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const xc = tf.sub(x, mean);
  const variance = tf.mean(tf.square(xc), -1, true);
  return affine(tf.mul(xc, tf.rsqrt(tf.add(variance, eps))), gamma, beta);
}

/**
 * GELU, tanh approximation as in GPT-2: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
 * tanh(z) is computed as 2·σ(2z) − 1 (identical math): tfjs-backend-wasm's Tanh kernel is ~3.6× slower than its Sigmoid
 * (measured on [2048,512]: 23.4 ms vs 6.5 ms).
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  const c = Math.sqrt(2 / Math.PI);
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), 2 * c);
  // 0.5·x·(1 + 2σ(2z) − 1) = x·σ(2z)
  return tf.mul(x, tf.sigmoid(inner));
}

/**
 * A tensor's float32 data as a host array without a copy where the backend allows: a view of tfjs-backend-wasm's heap
 * (valid until tfjs next allocates: read it at once) or the cpu backend's own array; else dataSync.
 */
export function hostView(t: tf.Tensor): Float32Array {
  const be = tf.backend() as unknown as { wasm?: { HEAPF32?: Float32Array }; dataIdMap?: { get(id: object): { memoryOffset?: number } | undefined } };
  if (tf.getBackend() === 'wasm' && be.wasm?.HEAPF32 && be.dataIdMap) {
    const off = be.dataIdMap.get(t.dataId)?.memoryOffset;
    if (off !== undefined) return be.wasm.HEAPF32.subarray(off / 4, off / 4 + t.size);
  }
  return t.dataSync() as Float32Array;
}
