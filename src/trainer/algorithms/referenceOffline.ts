/**
 * Plain-number façade over TDPO (./tdpo.ts), QRPO (./qrpo.ts) and SPIN (./spin.ts): the very tensor code the trainer
 * runs. Each function takes one object (the paper's / authors' code's names, one array entry per example) and returns
 * the MEAN loss over the batch as a number, as the authors' trainers do (`losses.mean()`). Re-exported by ./reference.ts.
 * Sequence log-probs (`*Logps`) are sums over the completion's tokens, prompt excluded.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as TD from './tdpo';
import * as QR from './qrpo';
import * as SP from './spin';
import { runScalar as run } from './referencePreference';

function t1(name: string, v: readonly number[] | undefined, n?: number): tf.Tensor1D {
  if (!Array.isArray(v)) throw new Error(`${name}: expected an array of numbers (one per example)`);
  if (n !== undefined && v.length !== n) throw new Error(`${name}: expected ${n} values (one per example), got ${v.length}`);
  v.forEach((x, i) => { if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`${name}[${i}]: expected a finite number, got ${String(x)}`); });
  return tf.tensor1d(v as number[], 'float32');
}

function num(name: string, v: unknown, ok: (x: number) => boolean, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new Error(`${name}: expected ${what}, got ${String(v)}`);
  return v;
}

/** Input of `tdpoLoss` (names of the authors' `tdpo_loss`). */
export interface TdpoLossInput {
  /** Σ_t (log π_θ − log π_ref) over the chosen completion's tokens, per pair */
  chosenLogpsMargin: number[];
  rejectedLogpsMargin: number[];
  /** D_SeqKL(x, y; π_ref ‖ π_θ) = Σ_t KL(π_ref(·|x,y<t) ‖ π_θ(·|x,y<t)) of the chosen / rejected completion, per pair */
  chosenPositionKl: number[];
  rejectedPositionKl: number[];
  /** β (authors' default 0.1) */
  beta: number;
  /** α, weight of the sequential-KL difference in TDPO2 (authors' default 0.5; unused by TDPO1) */
  alpha?: number;
  /** true (default, the authors' if_tdpo2): TDPO2; false: TDPO1 */
  tdpo2?: boolean;
}

/**
 * TDPO loss, mean over pairs, as the authors' `tdpo_loss`: −log σ(β·[(m_c − m_r) + (KL_c − KL_r)]) (TDPO1) or
 * −log σ(β·[(m_c − m_r) + α(sg(KL_c) − KL_r)]) (TDPO2; the stop-gradient only matters for gradients).
 */
export function tdpoLoss(i: TdpoLossInput): number {
  const beta = num('beta', i.beta, (x) => x > 0, 'a number > 0');
  const alpha = num('alpha', i.alpha ?? 0.5, (x) => x >= 0, 'a number ≥ 0');
  const n = i.chosenLogpsMargin?.length;
  return run(() => tf.mean(TD.tdpoLoss(
    t1('chosenLogpsMargin', i.chosenLogpsMargin), t1('rejectedLogpsMargin', i.rejectedLogpsMargin, n),
    t1('chosenPositionKl', i.chosenPositionKl, n), t1('rejectedPositionKl', i.rejectedPositionKl, n), beta, alpha, i.tdpo2 ?? true,
  ).losses) as tf.Scalar);
}

/**
 * The authors' `_tdpo_get_batch_logps` on plain arrays: logits `[B][T][V]` of the policy and the reference (position t
 * predicts token t+1), token ids `[B][T]`, mask `[B][T−1]` (1 on the completion's log-prob columns). Returns per row
 * the log-prob margin Σ mask·(log π_θ − log π_ref), the sequential KL Σ mask·KL(π_ref‖π_θ), and the per-position KL.
 */
export function tdpoBatchLogps(i: { logits: number[][][]; refLogits: number[][][]; ids: number[][]; mask: number[][] }): { logpsMargin: number[]; positionKl: number[]; perPositionKl: number[][] } {
  const B = i.logits?.length, T = i.logits?.[0]?.length, V = i.logits?.[0]?.[0]?.length;
  if (!B || !T || T < 2 || !V) throw new Error('logits: expected a non-empty [B][T][V] array with T ≥ 2');
  if (i.refLogits?.length !== B || i.refLogits[0]?.length !== T || i.refLogits[0][0]?.length !== V) throw new Error(`refLogits: expected the shape of logits [${B}][${T}][${V}]`);
  if (i.ids?.length !== B || i.ids.some((r) => r.length !== T)) throw new Error(`ids: expected [${B}][${T}] token ids`);
  if (i.mask?.length !== B || i.mask.some((r) => r.length !== T - 1)) throw new Error(`mask: expected [${B}][${T - 1}] (one per log-prob column)`);
  const out = tf.tidy(() => {
    const r = TD.tdpoBatchLogps(tf.tensor3d(i.logits, [B, T, V], 'float32'), tf.tensor3d(i.refLogits, [B, T, V], 'float32'),
      tf.tensor2d(i.ids, [B, T], 'int32'), tf.tensor2d(i.mask, [B, T - 1], 'float32'));
    return [r.logpsMargin, r.positionKl, r.perPositionKl];
  });
  const [m, k, p] = out.map((t) => Array.from(t.dataSync()));
  tf.dispose(out);
  return { logpsMargin: m, positionKl: k, perPositionKl: Array.from({ length: B }, (_, b) => p.slice(b * (T - 1), (b + 1) * (T - 1))) };
}

/** Input of `qrpoLoss` (names of the authors' `qrpo_loss`). */
export interface QrpoLossInput {
  /** Σ_t log π_θ of each training completion `[B]` */
  logps: number[];
  /** the same under the reference policy `[B]` */
  refLogps: number[];
  /** the completions' absolute (pointwise) rewards `[B]` */
  rewards: number[];
  /** rewards of reference completions (sampled from π_ref for the same prompt) `[B][n]`, n ≥ 1 per row */
  refRewards: number[][];
  /** β (KL strength) */
  beta: number;
  /** log Z: 'exact' (default) log(β(e^{1/β} − 1)); 'simplified' log β + 1/β as the authors' README code */
  logZ?: QR.QrpoLogZ;
}

/** QRPO loss, mean over completions: (R_q − β log Z − β(logps − refLogps))², R_q = empirical CDF of refRewards at the reward. */
export function qrpoLoss(i: QrpoLossInput): number {
  const beta = num('beta', i.beta, (x) => x > 0, 'a number > 0');
  const n = i.logps?.length;
  if (!Array.isArray(i.refRewards) || i.refRewards.length !== n) throw new Error(`refRewards: expected ${n} rows (the reference completions' rewards of each example's prompt)`);
  i.refRewards.forEach((r, k) => {
    if (!Array.isArray(r) || !r.length) throw new Error(`refRewards[${k}]: expected at least one reference reward`);
    r.forEach((x, j) => { if (typeof x !== 'number' || !Number.isFinite(x)) throw new Error(`refRewards[${k}][${j}]: expected a finite number, got ${String(x)}`); });
  });
  t1('rewards', i.rewards, n).dispose();
  if (i.logZ !== undefined && i.logZ !== 'exact' && i.logZ !== 'simplified') throw new Error(`logZ: expected 'exact' or 'simplified', got ${String(i.logZ)}`);
  const q = QR.quantileRewards(i.rewards, i.refRewards);
  return run(() => tf.mean(QR.qrpoLoss(t1('logps', i.logps), t1('refLogps', i.refLogps, n), tf.tensor1d(q, 'float32'), beta, QR.quantileLogPartition(beta, i.logZ ?? 'exact')).losses) as tf.Scalar);
}

/** The quantile rewards alone (R_q per example): the empirical CDF of refRewards[i] at rewards[i]. */
export function qrpoQuantileRewards(i: { rewards: number[]; refRewards: number[][] }): number[] {
  return QR.quantileRewards(i.rewards, i.refRewards);
}

/** Input of `spinLoss` (names of the authors' `spin_loss`). */
export interface SpinLossInput {
  /** Σ_t log p_θ of the real (SFT) completion `[B]` */
  policyRealLogps: number[];
  /** Σ_t log p_θ of the opponent's generated completion `[B]` */
  policyGeneratedLogps: number[];
  /** the same two under the opponent p_θt (previous iteration's model) */
  opponentRealLogps: number[];
  opponentGeneratedLogps: number[];
  /** β in the authors' code = λ in the paper (config 0.1); give one */
  beta?: number;
  lambda?: number;
  /** 'sigmoid' (default; the paper's logistic ℓ) or 'hinge' */
  lossType?: SP.SpinLossType;
}

/** SPIN loss, mean over pairs: ℓ(λ[(p_real − p_gen) − (o_real − o_gen)]), ℓ(t) = log(1 + e^{−t}) ('sigmoid') or max(0, 1 − t). */
export function spinLoss(i: SpinLossInput): number {
  if (i.beta !== undefined && i.lambda !== undefined && i.beta !== i.lambda) throw new Error(`beta ${i.beta} and lambda ${i.lambda}: give one (the code's β is the paper's λ)`);
  const beta = num('beta (= the SPIN paper\'s λ)', i.beta ?? i.lambda, (x) => x > 0, 'a number > 0');
  if (i.lossType !== undefined && i.lossType !== 'sigmoid' && i.lossType !== 'hinge') throw new Error(`lossType: expected 'sigmoid' or 'hinge', got ${String(i.lossType)}`);
  const n = i.policyRealLogps?.length;
  return run(() => tf.mean(SP.spinLoss(t1('policyRealLogps', i.policyRealLogps), t1('policyGeneratedLogps', i.policyGeneratedLogps, n),
    t1('opponentRealLogps', i.opponentRealLogps, n), t1('opponentGeneratedLogps', i.opponentGeneratedLogps, n), beta, i.lossType ?? 'sigmoid').losses) as tf.Scalar);
}
