/**
 * What every model family shares about its weights (GPT, Llama): named tfjs variables with globally unique names,
 * copies in and out as plain arrays, the value head added as zeros, constants the model keeps (masks, tables) disposed
 * with it, and the padding helpers of the forward passes.
 */
import * as tf from '@tensorflow/tfjs-core';

export type Weights = Record<string, { shape: number[]; data: Float32Array }>;
export type WeightInit = ((name: string, shape: number[]) => Float32Array) | undefined;

/** A row-major [rows, cols] matrix transposed → [cols, rows] (the loaders: nn.Linear's [out, in] ↔ our [in, out]). */
export function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}

let counter = 0;

export abstract class ModelWeights {
  /** weight name → variable */
  readonly weights = new Map<string, tf.Variable>();
  /** unique prefix of this instance's tfjs variable names (tfjs needs globally unique variable names) */
  readonly uid: string;
  /** tensors the model keeps for its life (causal masks, rotary tables) */
  private readonly constants = new Map<string, tf.Tensor>();
  private disposed = false;

  protected constructor(private readonly errorPrefix: string, shapes: [string, number[]][], trainable: boolean, init: WeightInit) {
    this.uid = `${errorPrefix}${++counter}`;
    for (const [name, shape] of shapes) {
      const data = init ? init(name, shape) : new Float32Array(shape.reduce((a, b) => a * b, 1));
      const t0 = tf.tensor(data, shape, 'float32');
      this.weights.set(name, tf.variable(t0, trainable, `${this.uid}/${name}`));
      t0.dispose();
    }
  }

  /** Trainable variables (all weights unless the model was created frozen). */
  trainableVariables(): tf.Variable[] { return [...this.weights.values()].filter((v) => v.trainable); }

  /** Weight by name. */
  w(name: string): tf.Variable {
    const v = this.weights.get(name);
    if (!v) throw new Error(`${this.errorPrefix}: no weight ${name}`);
    return v;
  }

  /** Weights as plain arrays (checkpoints, clones). */
  getWeights(): Weights {
    const out: Weights = {};
    for (const [name, v] of this.weights) out[name] = { shape: v.shape.slice(), data: v.dataSync() as Float32Array };
    return out;
  }

  setWeights(weights: Weights): void {
    for (const [name, v] of this.weights) {
      const w = weights[name];
      if (!w) throw new Error(`${this.errorPrefix}: weight ${name} missing`);
      if (w.shape.join(',') !== v.shape.join(',')) throw new Error(`${this.errorPrefix}: weight ${name} has shape [${w.shape}], expected [${v.shape}]`);
      tf.tidy(() => v.assign(tf.tensor(w.data, w.shape, 'float32')));
    }
  }

  /** Overwrite this model's weights with another model's of the same architecture. */
  copyWeightsFrom(other: { getWeights(): Weights }): void {
    const w = other.getWeights();
    for (const name of this.weights.keys()) if (!w[name]) throw new Error(`${this.errorPrefix}: copyWeightsFrom: the other model has no ${name}`);
    this.setWeights(w);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.weights.values()) v.dispose();
    for (const t of this.constants.values()) t.dispose();
    this.constants.clear();
  }

  /** Throws, naming `source`, when `weights` lacks a tensor of `shapes` or has it in another shape (the loaders' check). */
  protected static checkWeights(shapes: [string, number[]][], weights: Weights, what: string, source: string): void {
    for (const [name, shape] of shapes) {
      const w = weights[name];
      if (!w) throw new Error(`${what} ${name} missing from ${source}`);
      if (w.shape.join(',') !== shape.join(',')) throw new Error(`${what} ${name} in ${source} has shape [${w.shape}] but the config needs [${shape}]`);
    }
  }

  /** Σ of the shapes' sizes. */
  protected static countParameters(shapes: [string, number[]][]): number {
    return shapes.reduce((n, [, s]) => n + s.reduce((a, b) => a * b, 1), 0);
  }

  /** This model's weights plus a zero-initialised scalar value head on a D-wide final hidden state. */
  protected weightsWithValueHead(D: number): Weights {
    const w = this.getWeights();
    w['value_head.weight'] = { shape: [D, 1], data: new Float32Array(D) };
    w['value_head.bias'] = { shape: [1], data: new Float32Array(1) };
    return w;
  }

  /** A tensor kept for the model's life under `key`, made on first use. */
  protected constant<T extends tf.Tensor>(key: string, make: () => T): T {
    let t = this.constants.get(key) as T | undefined;
    if (!t) { t = tf.keep(make()); this.constants.set(key, t); }
    return t;
  }

  /** Causal mask bias [T, T]: 0 on and below the diagonal, −1e9 above. */
  protected static causalMask(T: number): tf.Tensor2D {
    const d = new Float32Array(T * T);
    for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) d[i * T + j] = -1e9;
    return tf.tensor2d(d, [T, T]);
  }

  /** positions = cumsum(mask) − 1, clamped at 0 (left padding). mask [B,T] → int32 [B,T] */
  static positionsFromMask(mask: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => tf.cast(tf.maximum(tf.sub(tf.cumsum(tf.cast(mask, 'float32'), 1), 1), 0), 'int32') as tf.Tensor2D);
  }

  /** Key-padding bias [B,1,1,T] from a mask [B,T] (0 for real keys, −1e9 for padding). */
  protected static keyBias(mask: tf.Tensor2D): tf.Tensor4D {
    const [B, T] = mask.shape;
    return tf.reshape(tf.mul(tf.sub(1, tf.cast(mask, 'float32')), -1e9), [B, 1, 1, T]) as tf.Tensor4D;
  }

  /** Dispose a KV cache's tensors. */
  static disposeCache(cache: { layers: { k: tf.Tensor; v: tf.Tensor }[] }): void {
    for (const l of cache.layers) { l.k.dispose(); l.v.dispose(); }
    cache.layers = [];
  }
}
