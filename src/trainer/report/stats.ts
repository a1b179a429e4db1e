/**
 * Per-tensor statistics of safetensors checkpoints, fast enough for ~100M-parameter files: the file is read once,
 * tensors are Float32Array views into it (no per-tensor copy when aligned), sums are accumulated in float64.
 *
 *   L2        ‖W‖₂ = sqrt(Σ w²)
 *   mean      μ = Σ w / n
 *   std       σ = sqrt(Σ (w − μ)² / n)     (population; shifted-data one-pass form, see tensorStats)
 *   max|x|    max |w|
 *   relChange ‖W − W_base‖₂ / ‖W_base‖₂  (null when the base lacks the tensor, has another shape, or ‖W_base‖ = 0)
 */
import * as fs from 'fs';
import type { TensorRow } from '../../report/types';

export interface TensorView { name: string; shape: number[]; data: Float32Array }

/** Parse a safetensors file (F32 only) into views over one buffer, in header (= data) order. */
export function readSafetensorsViews(file: string): TensorView[] {
  const buf = fs.readFileSync(file);
  if (buf.length < 8) throw new Error(`${file}: too short for a safetensors file (${buf.length} bytes)`);
  const n = Number(buf.readBigUInt64LE(0));
  if (8 + n > buf.length) throw new Error(`${file}: header length ${n} exceeds the file size ${buf.length}`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try { header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')); } catch (e) { throw new Error(`${file}: header is not valid JSON: ${(e as Error).message}`); }
  const base = 8 + n;
  const out: (TensorView & { at: number })[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (info.dtype !== 'F32') throw new Error(`${file}: tensor ${name} has dtype ${info.dtype}; only F32 is supported`);
    const [b, e] = info.data_offsets;
    const count = info.shape.reduce((a, c) => a * c, 1);
    if (e - b !== 4 * count || base + e > buf.length) throw new Error(`${file}: tensor ${name} offsets [${b}, ${e}] do not match shape [${info.shape}] or the file size`);
    const off = buf.byteOffset + base + b;
    const data = off % 4 === 0 ? new Float32Array(buf.buffer, off, count) : new Float32Array(buf.buffer.slice(off, off + 4 * count));
    out.push({ name, shape: info.shape, data, at: b });
  }
  if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) throw new Error('big-endian hosts are not supported for checkpoint reports');
  return out.sort((a, b) => a.at - b.at).map(({ name, shape, data }) => ({ name, shape, data }));
}

/**
 * Statistics of one tensor (see the header for the formulas), and ‖x − base‖/‖base‖ when a base is given, in ONE pass.
 * The variance uses the shifted-data form σ² = (Σd² − (Σd)²/n)/n with d = w − w₀ (w₀ = first element), which has no
 * catastrophic cancellation when the values sit far from 0 (Chan, Golub & LeVeque 1983, "shifted data").
 */
export function tensorStats(x: Float32Array, base?: Float32Array): { l2: number; mean: number; std: number; maxAbs: number; relChange?: number | null } {
  const n = x.length;
  if (n === 0) return { l2: 0, mean: 0, std: 0, maxAbs: 0, ...(base ? { relChange: null } : {}) };
  const k = x[0];
  let s1 = 0, s2 = 0, sq = 0, maxAbs = 0;
  let dd = 0, nb = 0;
  const withBase = base !== undefined && base.length === n;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const d = v - k;
    s1 += d; s2 += d * d; sq += v * v;
    const a = v < 0 ? -v : v;
    if (a > maxAbs) maxAbs = a;
    if (withBase) { const b = base![i]; const e = v - b; dd += e * e; nb += b * b; }
  }
  const mean = k + s1 / n;
  const variance = Math.max(0, (s2 - (s1 * s1) / n) / n);
  const out: { l2: number; mean: number; std: number; maxAbs: number; relChange?: number | null } = { l2: Math.sqrt(sq), mean, std: Math.sqrt(variance), maxAbs };
  if (base !== undefined) out.relChange = withBase && nb > 0 ? Math.sqrt(dd / nb) : null;
  return out;
}

/** ‖a − b‖₂ / ‖b‖₂ (b = base). */
export function relativeChange(a: Float32Array, b: Float32Array): number | null {
  if (a.length !== b.length) return null;
  let d = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { const e = a[i] - b[i]; d += e * e; nb += b[i] * b[i]; }
  return nb > 0 ? Math.sqrt(d / nb) : null;
}

/** Rows for every tensor of `views`, with relative change against `base` when given. */
export function tensorTable(views: TensorView[], base?: TensorView[]): TensorRow[] {
  const byName = new Map(base?.map((v) => [v.name, v]));
  return views.map((v) => {
    const b = base ? byName.get(v.name) : undefined;
    const same = b !== undefined && b.shape.join(',') === v.shape.join(',');
    const st = tensorStats(v.data, same ? b!.data : undefined);
    const row: TensorRow = { name: v.name, shape: v.shape, params: v.data.length, l2: st.l2, mean: st.mean, std: st.std, maxAbs: st.maxAbs };
    if (base) row.relChange = same ? st.relChange ?? null : null;
    return row;
  });
}
