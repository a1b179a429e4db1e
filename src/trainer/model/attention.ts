/**
 * Causal multi-head attention with grouped-query heads, as one differentiable op:
 *
 *   q [B, T, H, hd], k / v [B, Tk, K·hd] (K key/value heads, each serving H/K consecutive query heads; Tk ≥ T, the
 *   last T keys being the queries' own positions), bias broadcastable to [B, H, T, Tk] (0 or −1e9: causal and padding
 *   masks) → softmax(q·kᵀ·scale + bias)·v as [B·T, H·hd].
 *
 * On the wasm and cpu backends it is a fused kernel on the tensors' host arrays (flash-attention style: scores are
 * never stored; the backward pass recomputes them from q, k and the saved log-sum-exp): WebAssembly SIMD row kernels
 * (wasmKernels.ts), or the plain-JS ones below where SIMD is missing or hd is not a multiple of 4. Reasons:
 * tfjs-backend-wasm runs a batched matMul (batch > 1) in a scalar loop with per-element overhead (≈ 1 GFLOP/s on
 * [512, 136, 8]·[512, 8, 136]), and the unfused version also pays for the [B·H, T, Tk] scores in Mul, Add, Softmax,
 * their gradients and two big Transposes, plus the head transposes and the GQA repeat. Keys whose bias is ≤ −1e8 are
 * skipped (their softmax weight is exactly 0 in float32 as long as one key of the row is not masked; a row with every
 * key masked is computed over all keys, as the unfused op does). Other backends (tfjs-node, GPU) run the tfjs ops.
 *
 * Gradients (Dao et al. 2022, FlashAttention, Alg. 4): with P = softmax(S), D_i = Σ_d dO_id·O_id,
 *   dV = Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ⊙ (dP − D),  dQ = scale·dS·K,  dK = scale·dSᵀ·Q.
 */
import * as tf from '@tensorflow/tfjs-core';
import { hostView, mm, swapLast } from './ops';
import { attentionKernels, newAttentionKernels, type AttentionKernels } from './wasmKernels';

const MASKED = -1e8;

/** WebAssembly SIMD row kernels (wasmKernels.ts) when they compile; else the JS ones. Switchable: tests compare the two. */
let useWasmKernels = true;
export function setAttentionKernels(kind: 'wasm' | 'js'): void { useWasmKernels = kind === 'wasm'; }

/** Backends whose tensors live in host (or wasm) memory: dataSync is a copy, not a GPU read. */
function hostBackend(): boolean {
  const b = tf.getBackend();
  return b === 'wasm' || b === 'cpu';
}

/** Index of bias[b, h, i, j] for a bias of any rank ≤ 4 broadcast to [B, H, T, Tk]: base(b, h, i) + j·sj. */
interface BiasView { data: Float32Array; sb: number; sh: number; si: number; sj: number }
function biasView(bias: tf.Tensor | undefined): BiasView | undefined {
  if (!bias) return undefined;
  const shape = [1, 1, 1, 1, ...bias.shape].slice(-4);
  const strides = [0, 0, 0, 0];
  let st = 1;
  for (let d = 3; d >= 0; d--) { strides[d] = shape[d] === 1 ? 0 : st; st *= shape[d]; }
  return { data: bias.dataSync() as Float32Array, sb: strides[0], sh: strides[1], si: strides[2], sj: strides[3] };
}

interface Dims { B: number; T: number; Tk: number; H: number; K: number; hd: number; scale: number }

/**
 * Row (b, h, i): the allowed keys' indices (bias > −1e8) into `out`, or every key when none is (a fully masked row).
 * → the count, negative when the row is fully masked.
 */
function allowedKeys(bv: BiasView | undefined, base: number, Tk: number, out: Int32Array): number {
  if (!bv) { for (let j = 0; j < Tk; j++) out[j] = j; return Tk; }
  let n = 0;
  const data = bv.data, sj = bv.sj;
  for (let j = 0; j < Tk; j++) if (data[base + j * sj] > MASKED) out[n++] = j;
  if (n > 0) return n;
  for (let j = 0; j < Tk; j++) out[j] = j;
  return -Tk;
}

/**
 * Scores of one query row against its allowed keys, in float32 steps as the unfused op (mm, × scale, + bias) → s;
 * returns their max. For a fully masked row (n < 0) the bias is added in float32 as the unfused op does.
 */
function rowScores(q: Float32Array, qo: number, k: Float32Array, kb: number, KD: number, hd: number, scale: number, idx: Int32Array, n: number, bv: BiasView | undefined, base: number, s: Float64Array): number {
  const all = n < 0, nk = all ? -n : n;
  let m = -Infinity;
  for (let t = 0; t < nk; t++) {
    const j = idx[t];
    const ko = kb + j * KD;
    let dot = 0;
    for (let d = 0; d < hd; d++) dot += q[qo + d] * k[ko + d];
    let x = Math.fround(Math.fround(dot) * scale);
    if (bv) { const bb = bv.data[base + j * bv.sj]; x = all ? Math.fround(x + bb) : x + bb; }
    s[t] = x;
    if (x > m) m = x;
  }
  return m;
}

/** Whether the bias row (b, ·, i) is the same for every head (then the allowed keys are found once per (b, i)). */
const headFree = (bv: BiasView | undefined) => !bv || bv.sh === 0;

/**
 * Every (batch b, query row i, head h) of an attention call, in order: the row's allowed keys go to `idx` (found once
 * per (b, i) when the bias is the same for every head), their scaled scores to `s`, then `visit` gets the row's key /
 * value offset `kb`, query / output offset `qo`, the number of allowed keys and the scores' maximum.
 */
function forEachRow(q: Float32Array, k: Float32Array, bv: BiasView | undefined, n: Dims, idx: Int32Array, s: Float64Array,
  visit: (b: number, i: number, h: number, kb: number, qo: number, cnt: number, max: number) => void): void {
  const { B, T, Tk, H, K, hd, scale } = n;
  const rep = H / K, KD = K * hd;
  const shared = headFree(bv);
  for (let b = 0; b < B; b++) {
    const kb0 = b * Tk * KD;
    for (let i = 0; i < T; i++) {
      let nk = 0;
      for (let h = 0; h < H; h++) {
        const base = bv ? b * bv.sb + h * bv.sh + i * bv.si : 0;
        if (h === 0 || !shared) nk = allowedKeys(bv, base, Tk, idx);
        const kb = kb0 + Math.floor(h / rep) * hd;
        const qo = ((b * T + i) * H + h) * hd;
        const m = rowScores(q, qo, k, kb, KD, hd, scale, idx, nk, bv, base, s);
        visit(b, i, h, kb, qo, nk < 0 ? -nk : nk, m);
      }
    }
  }
}

function forwardHost(q: Float32Array, k: Float32Array, v: Float32Array, bv: BiasView | undefined, n: Dims): { o: Float32Array; lse: Float64Array } {
  const { B, T, Tk, H, K, hd } = n;
  const KD = K * hd;
  const o = new Float32Array(B * T * H * hd), lse = new Float64Array(B * H * T);
  const idx = new Int32Array(Tk), s = new Float64Array(Tk), acc = new Float64Array(hd);
  forEachRow(q, k, bv, n, idx, s, (b, i, h, kb, qo, cnt, m) => {
    let l = 0;
    for (let d = 0; d < hd; d++) acc[d] = 0;
    for (let t = 0; t < cnt; t++) {
      const p = Math.exp(s[t] - m);
      l += p;
      const vo = kb + idx[t] * KD;
      for (let d = 0; d < hd; d++) acc[d] += p * v[vo + d];
    }
    const inv = 1 / l;
    for (let d = 0; d < hd; d++) o[qo + d] = acc[d] * inv;
    lse[(b * H + h) * T + i] = m + Math.log(l);
  });
  return { o, lse };
}

function backwardHost(q: Float32Array, k: Float32Array, v: Float32Array, o: Float32Array, lse: Float64Array, dO: Float32Array, bv: BiasView | undefined, n: Dims): { dq: Float32Array; dk: Float32Array; dv: Float32Array } {
  const { T, Tk, H, K, hd, scale } = n;
  const KD = K * hd;
  const dq = new Float32Array(q.length);
  const dk = new Float64Array(k.length), dv = new Float64Array(v.length);
  const idx = new Int32Array(Tk), s = new Float64Array(Tk), gq = new Float64Array(hd);
  forEachRow(q, k, bv, n, idx, s, (b, i, h, kb, qo, cnt) => {
    const L = lse[(b * H + h) * T + i];
    let D = 0;
    for (let d = 0; d < hd; d++) { D += dO[qo + d] * o[qo + d]; gq[d] = 0; }
    for (let t = 0; t < cnt; t++) {
      const ko = kb + idx[t] * KD;
      const p = Math.exp(s[t] - L);
      let dp = 0;
      for (let d = 0; d < hd; d++) { const g = dO[qo + d]; dp += g * v[ko + d]; dv[ko + d] += p * g; }
      const ds = p * (dp - D) * scale;
      for (let d = 0; d < hd; d++) { gq[d] += ds * k[ko + d]; dk[ko + d] += ds * q[qo + d]; }
    }
    for (let d = 0; d < hd; d++) dq[qo + d] = gq[d];
  });
  return { dq, dk: Float32Array.from(dk), dv: Float32Array.from(dv) };
}

/** Byte offsets of the arrays one kernel call needs, 16-byte aligned, from 0. */
function layout(sizes: Record<string, number>): { at: Record<string, number>; bytes: number } {
  const at: Record<string, number> = {};
  let o = 0;
  for (const [k, n] of Object.entries(sizes)) { at[k] = o; o += Math.ceil((n * 4) / 16) * 16; }
  return { at, bytes: o };
}

/** Per (b, i): the allowed keys and their bias values written into the kernel's memory; → n (negative: fully masked). */
function writeRow(bv: BiasView | undefined, base: number, Tk: number, idx: Int32Array, i32: Int32Array, f32: Float32Array, IDX: number, BIAS: number): number {
  const nk = allowedKeys(bv, base, Tk, idx);
  const cnt = nk < 0 ? -nk : nk;
  for (let t = 0; t < cnt; t++) {
    i32[IDX + t] = idx[t];
    f32[BIAS + t] = bv ? bv.data[base + idx[t] * bv.sj] : 0;
  }
  // the kernels score 4 keys at a time: pad with key 0 at −∞
  for (let t = cnt; t < cnt + 3; t++) { i32[IDX + t] = 0; f32[BIAS + t] = -Infinity; }
  return cnt;
}

/** The wasm kernels' forward: o, and per row (max score, log Σ exp(score − max)) as pairs in `lse`. */
function forwardWasm(kern: AttentionKernels, q: Float32Array, k: Float32Array, v: Float32Array, bv: BiasView | undefined, n: Dims): { o: Float32Array; lse: Float32Array } {
  const { B, T, Tk, H } = n;
  const L = layout({ q: q.length, k: k.length, v: v.length, o: q.length, idx: Tk + 4, bias: Tk + 4, s: Tk + 4, ml: 2 * B * H * T });
  kern.reserve(L.bytes);
  const f32 = new Float32Array(kern.memory.buffer), i32 = new Int32Array(kern.memory.buffer);
  f32.set(q, L.at.q / 4); f32.set(k, L.at.k / 4); f32.set(v, L.at.v / 4);
  rowsForward(kern, L.at, Tk, bv, n, i32, f32);
  return { o: f32.slice(L.at.o / 4, L.at.o / 4 + q.length), lse: f32.slice(L.at.ml / 4, L.at.ml / 4 + 2 * B * H * T) };
}

/**
 * Every query row through the kernels' fwd, keys of batch row b at at.k + b·Tc·KD (Tc = the key rows held per batch
 * row: Tk, or a mirror's capacity); writes at.o and at.ml (per row (b, h, i): max, log Σ at 2·((b·H + h)·T + i)).
 */
function rowsForward(kern: AttentionKernels, at: Record<string, number>, Tc: number, bv: BiasView | undefined, n: Dims, i32: Int32Array, f32: Float32Array): void {
  const { B, T, Tk, H, K, hd, scale } = n;
  const rep = H / K, KD = K * hd;
  const idx = new Int32Array(Tk);
  const shared = headFree(bv);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < T; i++) {
      const qo = (b * T + i) * H * hd * 4, mo = 2 * (b * H * T + i) * 4;
      if (shared) {
        const cnt = writeRow(bv, bv ? b * bv.sb + i * bv.si : 0, Tk, idx, i32, f32, at.idx / 4, at.bias / 4);
        kern.fwdh(at.q + qo, hd * 4, H, rep, at.k + b * Tc * KD * 4, at.v + b * Tc * KD * 4, KD * 4, at.idx, at.bias, cnt, scale, at.s, at.o + qo, at.ml + mo, 8 * T);
        continue;
      }
      for (let h = 0; h < H; h++) {
        const cnt = writeRow(bv, b * bv!.sb + h * bv!.sh + i * bv!.si, Tk, idx, i32, f32, at.idx / 4, at.bias / 4);
        const kb = (b * Tc * KD + Math.floor(h / rep) * hd) * 4;
        kern.fwd(at.q + qo + h * hd * 4, at.k + kb, at.v + kb, KD * 4, at.idx, at.bias, cnt, scale, at.s, at.o + qo + h * hd * 4, at.ml + mo + h * 8 * T);
      }
    }
  }
}

function backwardWasm(kern: AttentionKernels, q: Float32Array, k: Float32Array, v: Float32Array, o: Float32Array, lse: Float32Array, dO: Float32Array, bv: BiasView | undefined, n: Dims): { dq: Float32Array; dk: Float32Array; dv: Float32Array } {
  const { B, T, Tk, H, K, hd, scale } = n;
  const rep = H / K, KD = K * hd;
  const L = layout({ q: q.length, k: k.length, v: v.length, o: q.length, dO: q.length, dq: q.length, dk: k.length, dv: v.length, idx: Tk + 4, bias: Tk + 4, s: Tk + 4, ml: lse.length });
  kern.reserve(L.bytes);
  const f32 = new Float32Array(kern.memory.buffer), i32 = new Int32Array(kern.memory.buffer);
  f32.set(q, L.at.q / 4); f32.set(k, L.at.k / 4); f32.set(v, L.at.v / 4); f32.set(o, L.at.o / 4); f32.set(dO, L.at.dO / 4); f32.set(lse, L.at.ml / 4);
  f32.fill(0, L.at.dk / 4, L.at.dk / 4 + k.length); f32.fill(0, L.at.dv / 4, L.at.dv / 4 + v.length);
  const idx = new Int32Array(Tk);
  const shared = headFree(bv);
  const at = L.at;
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < T; i++) {
      const qo = (b * T + i) * H * hd * 4, mo = 2 * (b * H * T + i) * 4;
      if (shared) {
        const cnt = writeRow(bv, bv ? b * bv.sb + i * bv.si : 0, Tk, idx, i32, f32, at.idx / 4, at.bias / 4);
        const kb = b * Tk * KD * 4;
        kern.bwdh(at.q + qo, hd * 4, H, rep, at.k + kb, at.v + kb, KD * 4, at.idx, at.bias, cnt, scale, at.ml + mo, 8 * T, at.s, at.dO + qo, at.o + qo, at.dq + qo, at.dk + kb, at.dv + kb);
        continue;
      }
      for (let h = 0; h < H; h++) {
        const cnt = writeRow(bv, b * bv!.sb + h * bv!.sh + i * bv!.si, Tk, idx, i32, f32, at.idx / 4, at.bias / 4);
        const kb = (b * Tk * KD + Math.floor(h / rep) * hd) * 4, ho = qo + h * hd * 4, r = mo / 4 + h * 2 * T;
        kern.bwd(at.q + ho, at.k + kb, at.v + kb, KD * 4, at.idx, at.bias, cnt, scale, lse[r], lse[r + 1], at.s, at.dO + ho, at.o + ho, at.dq + ho, at.dk + kb, at.dv + kb);
      }
    }
  }
  return { dq: f32.slice(L.at.dq / 4, L.at.dq / 4 + q.length), dk: f32.slice(L.at.dk / 4, L.at.dk / 4 + k.length), dv: f32.slice(L.at.dv / 4, L.at.dv / 4 + v.length) };
}

/** The same op in tfjs ops (every backend): GQA repeat, heads first, batched matMuls, softmax. */
export function attentionOps(q: tf.Tensor4D, k: tf.Tensor3D, v: tf.Tensor3D, bias: tf.Tensor | undefined, K: number, scale: number): tf.Tensor2D {
  const [B, T, H, hd] = q.shape;
  const Tk = k.shape[1], rep = H / K;
  const heads = (t: tf.Tensor3D) => {
    let x = tf.reshape(t, [B, Tk, K, hd]);
    if (rep > 1) x = tf.reshape(tf.concat(Array.from({ length: rep }, () => tf.expandDims(x, 3)), 3), [B, Tk, H, hd]);
    return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [B * H, Tk, hd]);
  };
  const qh = tf.reshape(tf.transpose(q, [0, 2, 1, 3]), [B * H, T, hd]);
  let s = tf.mul(mm(qh, swapLast(heads(k))), scale); // [B·H, T, Tk]
  if (bias) s = tf.reshape(tf.add(tf.reshape(s, [B, H, T, Tk]), bias), [B * H, T, Tk]);
  const a = mm(tf.softmax(s), heads(v));
  return tf.reshape(tf.transpose(tf.reshape(a, [B, H, T, hd]), [0, 2, 1, 3]), [B * T, H * hd]) as tf.Tensor2D;
}

/**
 * A KV cache layer's keys and values kept in the kernels' own memory between decoding steps ([B, cap, K·hd] each),
 * so a step copies only its new rows instead of the whole cache. It mirrors exactly the tensor it is filed under
 * (`mirrors`: the step's concatenated k); the next step finds it under its `past.k`.
 */
interface KvMirror { kern: AttentionKernels; cap: number; len: number; v: tf.Tensor }
const mirrors = new WeakMap<tf.Tensor, KvMirror>();

function forwardMirror(k: tf.Tensor3D, v: tf.Tensor3D, past: { k: tf.Tensor3D; v: tf.Tensor3D }, q: Float32Array, bv: BiasView | undefined, n: Dims): { o: Float32Array; lse: Float32Array } | undefined {
  const { B, T, Tk, H, K, hd } = n;
  const KD = K * hd;
  let m = mirrors.get(past.k);
  mirrors.delete(past.k);
  const fresh = !m || m.v !== past.v || m.len !== Tk - T || Tk > m.cap;
  if (fresh) {
    const kern = newAttentionKernels(hd);
    if (!kern) return undefined;
    m = { kern, cap: Math.max(2 * Tk, Tk + 64), len: 0, v };
  }
  const mir = m!;
  const cap = mir.cap;
  const L = layout({ k: B * cap * KD, v: B * cap * KD, q: q.length, o: q.length, idx: Tk + 4, bias: Tk + 4, s: Tk + 4, ml: 2 * B * H * T });
  mir.kern.reserve(L.bytes);
  const f32 = new Float32Array(mir.kern.memory.buffer), i32 = new Int32Array(mir.kern.memory.buffer);
  // new rows (all of them for a fresh mirror), batch by batch
  const from = fresh ? 0 : Tk - T;
  const ka = hostView(k);
  for (let b = 0; b < B; b++) f32.set(ka.subarray((b * Tk + from) * KD, (b + 1) * Tk * KD), L.at.k / 4 + (b * cap + from) * KD);
  const va = hostView(v);
  for (let b = 0; b < B; b++) f32.set(va.subarray((b * Tk + from) * KD, (b + 1) * Tk * KD), L.at.v / 4 + (b * cap + from) * KD);
  f32.set(q, L.at.q / 4);
  mir.len = Tk;
  mir.v = v;
  mirrors.set(k, mir);
  rowsForward(mir.kern, L.at, cap, bv, n, i32, f32);
  return { o: f32.slice(L.at.o / 4, L.at.o / 4 + q.length), lse: f32.slice(L.at.ml / 4, L.at.ml / 4 + 2 * B * H * T) };
}

/**
 * softmax(q·kᵀ·scale + bias)·v. q [B, T, H, hd]; k, v [B, Tk, K·hd]; bias broadcastable to [B, H, T, Tk] (a constant:
 * no gradient); → [B·T, H·hd]. Differentiable w.r.t. q, k, v. `past`: the KV cache tensors k and v extend (k =
 * concat(past.k, new rows) along axis 1), so a decoding step can reuse the previous step's copy of the cache.
 */
export function attention(q: tf.Tensor4D, k: tf.Tensor3D, v: tf.Tensor3D, bias: tf.Tensor | undefined, K: number, scale: number, past?: { k: tf.Tensor3D; v: tf.Tensor3D }): tf.Tensor2D {
  if (!hostBackend()) return attentionOps(q, k, v, bias, K, scale);
  const [B, T, H, hd] = q.shape;
  const dims: Dims = { B, T, Tk: k.shape[1], H, K, hd, scale };
  const bv = biasView(bias);
  const kern = useWasmKernels ? attentionKernels(hd) : null;
  return tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [qt, kt, vt] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    save([qt, kt, vt]);
    let fw: { o: Float32Array; lse: Float32Array } | undefined;
    let fh: { o: Float32Array; lse: Float64Array } | undefined;
    if (kern && past) fw = forwardMirror(kt as tf.Tensor3D, vt as tf.Tensor3D, past, hostView(qt), bv, dims);
    if (!fw && kern) fw = forwardWasm(kern, hostView(qt), hostView(kt), hostView(vt), bv, dims);
    if (!fw) { const qa = qt.dataSync() as Float32Array, ka = kt.dataSync() as Float32Array, va = vt.dataSync() as Float32Array; fh = forwardHost(qa, ka, va, bv, dims); }
    const o = (fw ?? fh)!.o;
    return {
      value: tf.tensor2d(o, [B * T, H * hd]),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sq, sk, sv] = saved;
        const g = fw
          ? backwardWasm(kern!, hostView(sq), hostView(sk), hostView(sv), o, fw.lse, hostView(dy as tf.Tensor), bv, dims)
          : backwardHost(sq.dataSync() as Float32Array, sk.dataSync() as Float32Array, sv.dataSync() as Float32Array, o, fh!.lse, (dy as tf.Tensor).dataSync() as Float32Array, bv, dims);
        return [tf.tensor4d(g.dq, q.shape), tf.tensor3d(g.dk, k.shape as [number, number, number]), tf.tensor3d(g.dv, v.shape as [number, number, number])];
      },
    };
  }) as Parameters<typeof tf.customGrad>[0])(q, k, v) as tf.Tensor2D;
}
