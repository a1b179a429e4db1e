/**
 * AdamW (Loshchilov & Hutter 2019, decoupled weight decay) with global-norm gradient clipping, in tfjs ops.
 * Same update as torch.optim.AdamW:
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  m̂ = m/(1−β1ᵗ);  v̂ = v/(1−β2ᵗ)
 *   θ ← θ − lr·wd·θ − lr·m̂/(√v̂ + ε)
 * Weight decay is applied to matrices only (rank ≥ 2, as nanoGPT), not to biases / LayerNorm parameters.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** Global L2 norm of a set of gradients: √(Σ‖g‖²). */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/**
 * Scale gradients so that their global norm is ≤ maxNorm (torch.nn.utils.clip_grad_norm_: coef = maxNorm/(norm+1e-6), clamped at 1).
 * Returns the new gradients (inputs are not disposed) and the norm before clipping.
 */
export function clipByGlobalNorm(grads: Record<string, tf.Tensor>, maxNorm: number | undefined): { grads: Record<string, tf.Tensor>; norm: number } {
  const names = Object.keys(grads);
  const normT = globalNorm(names.map((n) => grads[n]));
  const norm = normT.dataSync()[0];
  normT.dispose();
  if (!maxNorm || !(maxNorm > 0) || !Number.isFinite(norm) || norm <= maxNorm) {
    const out: Record<string, tf.Tensor> = {};
    for (const n of names) out[n] = tf.clone(grads[n]);
    return { grads: out, norm };
  }
  const coef = maxNorm / (norm + 1e-6);
  const out: Record<string, tf.Tensor> = {};
  for (const n of names) out[n] = tf.mul(grads[n], coef);
  return { grads: out, norm };
}

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private t = 0;
  private m = new Map<string, tf.Variable>();
  private v = new Map<string, tf.Variable>();

  constructor(private readonly vars: tf.Variable[], opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
  }

  get stepCount(): number { return this.t; }

  /** Apply one update. grads: variable name → gradient (as returned by tf.variableGrads). */
  apply(grads: Record<string, tf.Tensor>, lr: number): void {
    this.t++;
    const b1 = this.beta1, b2 = this.beta2, t = this.t;
    const bc1 = 1 - Math.pow(b1, t), bc2 = 1 - Math.pow(b2, t);
    for (const p of this.vars) {
      const g = grads[p.name];
      if (!g) continue;
      let m = this.m.get(p.name), v = this.v.get(p.name);
      if (!m) { m = tf.tidy(() => tf.variable(tf.zerosLike(p), false)); this.m.set(p.name, m); }
      if (!v) { v = tf.tidy(() => tf.variable(tf.zerosLike(p), false)); this.v.set(p.name, v); }
      const mm = m, vv = v;
      tf.tidy(() => {
        const m2 = tf.add(tf.mul(mm, b1), tf.mul(g, 1 - b1));
        const v2 = tf.add(tf.mul(vv, b2), tf.mul(tf.square(g), 1 - b2));
        mm.assign(m2);
        vv.assign(v2);
        const upd = tf.div(tf.div(m2, bc1), tf.add(tf.sqrt(tf.div(v2, bc2)), this.eps));
        let next = tf.sub(p, tf.mul(upd, lr));
        if (this.weightDecay > 0 && p.rank >= 2) next = tf.sub(next, tf.mul(p, lr * this.weightDecay));
        p.assign(next);
      });
    }
  }

  /** Optimizer state (for tests / checkpoints). */
  state(): { t: number; m: Map<string, tf.Variable>; v: Map<string, tf.Variable> } { return { t: this.t, m: this.m, v: this.v }; }

  dispose(): void {
    for (const x of this.m.values()) x.dispose();
    for (const x of this.v.values()) x.dispose();
    this.m.clear();
    this.v.clear();
  }
}
