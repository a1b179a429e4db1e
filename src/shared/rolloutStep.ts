/**
 * One rollout step, one shape. This pure module (no `fs`, no tfjs, no DOM: trainer, host, CLI and webviews import
 * it) owns everything about a step's per-token data:
 *
 *   - the names of the per-token arrays and their storage order (TOKEN_ARRAYS, orderArrays);
 *   - the layout of the `.f32` block and its offset / slice arithmetic (packRolloutStep, sampleBlock, sampleArray);
 *   - which steps keep per-token arrays and which samples are kept (RolloutRetention: the run config's `rollouts`
 *     section; retainWholeGroups).
 *
 * Producers (the trainer's RL loop, SFT, preference trainers, importers) build a RolloutStepInput (header, samples,
 * one record of per-token arrays per sample); `packRolloutStep` turns it into the RolloutStep that is stored
 * (runio/writer.ts writes it), read back (runio/reader.ts readRolloutStep), sent to a webview (StepPayload in
 * protocol.ts carries the same header, samples and block) and drawn (webview/data/step.ts).
 *
 * Block layout (docs/run-format.md, "Per-token arrays"): little-endian float32, samples back to back in sample
 * order; sample i's block starts at `samples[i].offset` (in floats) and holds `header.arrays.length × samples[i].length`
 * floats, array-major: [arr0 t0..tL−1, arr1 t0..tL−1, ...]. Values a producer did not give are stored as NaN.
 */
import type { RolloutSample, RolloutSampleInput, RolloutStepHeader, RolloutStepHeaderInput } from './runFormat';

/** Names of the per-token arrays RL Lens writes, in storage order. Writers may add others (importers keep unknown
 *  per-token fields); those are stored after these, sorted by name (orderArrays). */
export const TOKEN_ARRAYS = [
  'logprob', 'old_logprob', 'ref_logprob', 'kl', 'token_reward', 'value', 'return',
  'advantage', 'ratio', 'clip', 'entropy', 'mask', 'implicit_reward', 'step_reward', 'step_boundary',
] as const;
export type KnownTokenArray = typeof TOKEN_ARRAYS[number];

/** One sample's per-token arrays as a producer hands them over (each `length` values long). */
export type TokenArrays = Record<string, ArrayLike<number>>;

/** A step as a producer hands it over: the writer fills kind, numSamples, dataFile, index and offset. */
export interface RolloutStepInput {
  header: RolloutStepHeaderInput;
  samples: RolloutSampleInput[];
  /** per sample (same order as `samples`); `{}` for a sample without per-token data */
  arrays: TokenArrays[];
}

/** A step as stored, read back and drawn: header, samples and the whole `.f32` block (empty when no arrays). */
export interface RolloutStep {
  header: RolloutStepHeader;
  samples: RolloutSample[];
  data: Float32Array;
}

/** Storage order of per-token arrays: RL Lens's known arrays first (their canonical order), then others by name. */
export function orderArrays(names: Iterable<string>): string[] {
  const set = new Set(names);
  const known = (TOKEN_ARRAYS as readonly string[]).filter((n) => set.has(n));
  const other = [...set].filter((n) => !(TOKEN_ARRAYS as readonly string[]).includes(n)).sort();
  return [...known, ...other];
}

/** The arrays a set of per-sample records holds (union over samples, storage order). */
export function arrayNamesOf(arrays: readonly TokenArrays[]): string[] {
  const names = new Set<string>();
  for (const a of arrays) for (const k of Object.keys(a)) names.add(k);
  return orderArrays(names);
}

/** Floats in sample `sample`'s block: arrays × tokens. */
export function sampleBlockLength(header: Pick<RolloutStepHeader, 'arrays'>, sample: Pick<RolloutSample, 'length'>): number {
  return header.arrays.length * sample.length;
}

/** Where sample `sample`'s block lies in the step's block, in floats: [start, end). Undefined when it has none. */
export function sampleBlock(header: Pick<RolloutStepHeader, 'arrays'>, sample: Pick<RolloutSample, 'length' | 'offset'>): { start: number; end: number } | undefined {
  if (sample.offset === undefined || header.arrays.length === 0) return undefined;
  return { start: sample.offset, end: sample.offset + sampleBlockLength(header, sample) };
}

/** Where array `name` of sample `sample` lies in the step's block, in floats: [start, end). */
export function arraySpan(header: Pick<RolloutStepHeader, 'arrays'>, sample: Pick<RolloutSample, 'length' | 'offset'>, name: string): { start: number; end: number } | undefined {
  const k = header.arrays.indexOf(name);
  if (k < 0 || sample.offset === undefined) return undefined;
  const start = sample.offset + k * sample.length;
  return { start, end: start + sample.length };
}

/** Array `name` of sample i as a view into the step's block (no copy); undefined when not stored or beyond the block. */
export function sampleArray(step: RolloutStep, i: number, name: string): Float32Array | undefined {
  const s = step.samples[i];
  const span = s && arraySpan(step.header, s, name);
  if (!span || span.end > step.data.length) return undefined;
  return step.data.subarray(span.start, span.end);
}

/** Every stored array of sample i (views into the block); `{}` when the sample has no per-token data. */
export function sampleArrays(step: RolloutStep, i: number): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const name of step.header.arrays) {
    const a = sampleArray(step, i, name);
    if (a) out[name] = a;
  }
  return out;
}

/**
 * Pack a producer's step into the stored shape: offsets back to back, array-major blocks, NaN where a producer gave
 * no value. `header.arrays` names what is stored, in order; when omitted (`[]` is kept as "none") it is derived from
 * the records (arrayNamesOf).
 */
export function packRolloutStep(input: RolloutStepInput, dataFile?: string): RolloutStep {
  const names = input.header.arrays;
  let total = 0;
  for (const s of input.samples) total += s.length * names.length;
  const data = new Float32Array(total);
  const samples: RolloutSample[] = [];
  let off = 0;
  input.samples.forEach((s, i) => {
    const arrs = input.arrays[i] ?? {};
    names.forEach((name, k) => {
      const src = arrs[name];
      const at = off + k * s.length;
      for (let t = 0; t < s.length; t++) data[at + t] = src && t < src.length ? Number(src[t]) : NaN;
    });
    samples.push({ ...s, kind: 'sample', index: i, offset: names.length ? off : undefined } as RolloutSample);
    off += s.length * names.length;
  });
  const header = { kind: 'header', ...input.header, numSamples: input.samples.length, dataFile: names.length ? dataFile : undefined } as RolloutStepHeader;
  return { header, samples, data };
}

/** Problems of a stored step's block: samples whose block lies beyond the data (a truncated `.f32` file). */
export function blockProblems(step: RolloutStep): string[] {
  const out: string[] = [];
  for (const s of step.samples) {
    const b = sampleBlock(step.header, s);
    if (b && b.end > step.data.length) out.push(`sample ${s.index}: per-token data beyond the end of ${step.header.dataFile ?? 'the data file'} (file truncated?)`);
  }
  return out;
}

/** The stored arrays that hold at least one finite value (a blank array is never offered as a view). */
export function arraysWithData(step: RolloutStep): string[] {
  return step.header.arrays.filter((name) => step.samples.some((_, i) => {
    const a = sampleArray(step, i, name);
    if (!a) return false;
    for (let t = 0; t < a.length; t++) if (Number.isFinite(a[t])) return true;
    return false;
  }));
}

/**
 * Trace retention: the run config's `rollouts` section (docs/config.md), the one setting that decides which steps
 * keep per-token arrays. Every step may write a summary (groups, texts, rewards); per-token arrays are kept on
 * step 1 and every `every`-th step (0 = never), for at most `maxSamples` samples (whole groups first).
 */
export interface RolloutRetention {
  /** per-token arrays on step 1 and every N-th step; 0 = never */
  every: number;
  /** most samples kept per written step (whole groups, in order) */
  maxSamples: number;
}

/** Does `step` keep per-token arrays under `r`? */
export function isFullTraceStep(step: number, r: RolloutRetention): boolean {
  return r.every > 0 && (step % r.every === 0 || step === 1);
}

/**
 * Keep at most `maxSamples` samples of a step, whole groups first in header order (the first group always, even when
 * larger: a group is never split, its members are compared with each other); samples of a step without groups are
 * kept by index. Groups not kept leave the header; sample indices in the kept groups (and rollout trees' `parent`)
 * are renumbered; `subsampled`
 * is set when anything was cut, with `totalGroups` / `totalSamples` (what the step had: its metrics cover all of them).
 * Returns the input itself when nothing is cut.
 */
export function retainWholeGroups(input: RolloutStepInput, maxSamples: number): RolloutStepInput {
  const { header, samples, arrays } = input;
  if (!(maxSamples >= 0) || samples.length <= maxSamples) return input;
  const idx: number[] = [];
  const groups = header.groups ?? [];
  for (const g of groups) {
    if (idx.length + g.samples.length > maxSamples && idx.length > 0) break;
    idx.push(...g.samples);
  }
  if (idx.length === 0) for (let i = 0; i < Math.min(maxSamples, samples.length); i++) idx.push(i);
  const pos = new Map(idx.map((i, k) => [i, k]));
  return {
    header: {
      ...header, subsampled: true, totalGroups: groups.length, totalSamples: samples.length,
      groups: groups.filter((g) => g.samples.every((s) => pos.has(s))).map((g) => ({ ...g, samples: g.samples.map((s) => pos.get(s)!) })),
    },
    // a rollout tree's `parent` is a sample index: renumbered too (trees live inside one group, so it is kept)
    samples: idx.map((i) => {
      const t = samples[i].tree as { parent?: unknown } | undefined;
      return t && typeof t === 'object' && typeof t.parent === 'number' ? { ...samples[i], tree: { ...t, parent: pos.get(t.parent) ?? null } } : samples[i];
    }),
    arrays: idx.map((i) => arrays[i] ?? {}),
  };
}
