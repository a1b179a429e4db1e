/**
 * Controllers and schedules: KL coefficient (fixed / adaptive), the survey's adaptive β, learning-rate warmup + cosine.
 * Plain numbers (these run once per step on scalars).
 */

/**
 * Adaptive KL controller, verl `AdaptiveKLController` (core_algos; Ziegler et al. 2019 / InstructGPT rule):
 *   e = clip(KL/target − 1, −0.2, 0.2);  β ← β·(1 + e·n_steps/horizon)
 * verl defaults: target 0.1, horizon 10000.
 */
export class AdaptiveKLController {
  value: number;
  constructor(initKlCoef: number, readonly target: number, readonly horizon: number) {
    if (!(horizon > 0)) throw new Error(`adaptive KL controller: horizon must be > 0, got ${horizon}`);
    if (!(target > 0)) throw new Error(`adaptive KL controller: target must be > 0, got ${target}`);
    this.value = initKlCoef;
  }
  update(currentKl: number, nSteps: number): number {
    const e = Math.min(0.2, Math.max(-0.2, currentKl / this.target - 1));
    this.value *= 1 + e * nSteps / this.horizon;
    return this.value;
  }
}

/** Fixed KL controller (verl `FixedKLController`): update is a no-op. */
export class FixedKLController {
  constructor(public value: number) {}
  update(_currentKl: number, _nSteps: number): number { return this.value; }
}

export type KLController = AdaptiveKLController | FixedKLController;

export interface KlControlConfig { type: 'fixed' | 'adaptive'; coef: number; target?: number; horizon?: number }

/** verl `get_kl_controller`. */
export function getKlController(c: KlControlConfig): KLController {
  if (c.type === 'fixed') return new FixedKLController(c.coef);
  if (c.type === 'adaptive') return new AdaptiveKLController(c.coef, c.target ?? 0.1, c.horizon ?? 10000);
  throw new Error(`kl controller type must be "fixed" or "adaptive", got "${String((c as { type: unknown }).type)}"`);
}

/**
 * Adaptive β (the survey's GRPO practice: "raise β when KL exceeds a target, lower it below"). Our rule, not a
 * reference trainer's: β ← clip(β·(1+rate)) if KL > target·(1+tolerance); β ← clip(β/(1+rate)) if
 * KL < target/(1+tolerance); else unchanged. Bounded to [minBeta, maxBeta].
 */
export function adaptiveBetaUpdate(beta: number, kl: number, o: { target: number; rate?: number; tolerance?: number; minBeta?: number; maxBeta?: number }): number {
  const rate = o.rate ?? 0.1, tol = o.tolerance ?? 0.1, lo = o.minBeta ?? 1e-5, hi = o.maxBeta ?? 10;
  let b = beta;
  if (kl > o.target * (1 + tol)) b = beta * (1 + rate);
  else if (kl < o.target / (1 + tol)) b = beta / (1 + rate);
  return Math.min(hi, Math.max(lo, b));
}

/**
 * Learning rate with linear warmup then cosine decay to minLrRatio·lr (verl `get_cosine_schedule_with_warmup`,
 * num_cycles 0.5): step < warmup: lr·(step+1)/warmup; else lr·(min + (1−min)·½(1 + cos(π·progress))).
 * `step` is 0-based.
 */
export function warmupCosineLr(step: number, o: { lr: number; warmupSteps: number; totalSteps: number; minLrRatio?: number }): number {
  const min = o.minLrRatio ?? 0;
  if (o.warmupSteps > 0 && step < o.warmupSteps) return o.lr * (step + 1) / o.warmupSteps;
  const span = Math.max(1, o.totalSteps - o.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - o.warmupSteps) / span));
  return o.lr * (min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
