/**
 * The page's bounded cache of a step's per-token data for the windowed heatmap (issue 18). The host sends a step's
 * overview (records, per-sample numbers) once and per-token arrays only for the (sample, column block) cells the
 * page asks for (`rollout/window`, src/shared/protocol.ts); this cache holds those blocks, least recently used first
 * out past a byte budget, never dropping the cells of the current view. Pure (no DOM): the fetch is injected.
 */
import type { StepWindow } from '../../shared/protocol';
import type { RolloutStep } from '../../shared/rolloutStep';
import { toFloat32 } from '../../shared/protocol';
import { metricValues, sampleArray, sampleMask } from './step';

/** One (sample, column block) of a step: its arrays as a one-sample step of the block's tokens [t0, t0 + n). */
export interface WindowBlock {
  sample: number;
  block: number;
  t0: number;
  n: number;
  step: RolloutStep;
  tokens: string[];
  bytes: number;
  /** derived per-block values (metric values, mask, clip), computed on first use */
  memo: Map<string, Float32Array | undefined>;
}

export type WindowFetch = (cells: [number, number][]) => Promise<StepWindow>;

const key = (sample: number, block: number) => `${sample}:${block}`;

export class StepWindows {
  private readonly blocks = new Map<string, WindowBlock>();
  private readonly inflight = new Set<string>();
  private protect = new Set<string>();
  bytes = 0;
  /** for tests and the benchmark */
  readonly stats = { requests: 0, cellsFetched: 0, bytesFetched: 0, evicted: 0, failures: 0 };
  lastError: string | undefined;
  private failedAt = 0;
  /** clock (tests replace it) */
  now: () => number = () => Date.now();

  constructor(
    readonly arrays: readonly string[],
    readonly blockTokens: number,
    private readonly lengthOf: (sample: number) => number,
    private readonly fetch: WindowFetch,
    private readonly onArrive: () => void,
    readonly budgetBytes = 48 * 2 ** 20,
  ) {}

  /** Blocks of tokens [t0, t1) of a sample. */
  blocksOf(sample: number, t0: number, t1: number): number[] {
    const n = this.lengthOf(sample);
    const out: number[] = [];
    const a = Math.max(0, Math.floor(t0 / this.blockTokens)), b = Math.min(Math.ceil(n / this.blockTokens), Math.ceil(t1 / this.blockTokens));
    for (let k = a; k < b; k++) out.push(k);
    return out;
  }

  get(sample: number, block: number): WindowBlock | undefined {
    const k = key(sample, block);
    const b = this.blocks.get(k);
    if (b) { this.blocks.delete(k); this.blocks.set(k, b); }
    return b;
  }

  has(sample: number, block: number): boolean { return this.blocks.has(key(sample, block)); }

  /** The block holding token t of a sample, if cached. */
  at(sample: number, t: number): WindowBlock | undefined { return this.get(sample, Math.floor(t / this.blockTokens)); }

  /** Values of a metric over a block (stored or derived, webview/data/step.ts metricValues); NaN where absent. */
  metric(b: WindowBlock, metricId: string): Float32Array { return this.memo(b, `m:${metricId}`, () => metricValues(b.step, 0, metricId))!; }
  mask(b: WindowBlock): Float32Array { return this.memo(b, 'mask', () => sampleMask(b.step, 0))!; }
  array(b: WindowBlock, name: string): Float32Array | undefined { return this.memo(b, `a:${name}`, () => sampleArray(b.step, 0, name)); }

  private memo(b: WindowBlock, k: string, f: () => Float32Array | undefined): Float32Array | undefined {
    if (!b.memo.has(k)) b.memo.set(k, f());
    return b.memo.get(k);
  }

  /** The cells the view shows now: never evicted while they are the view. */
  setVisible(cells: [number, number][]): void { this.protect = new Set(cells.map(([s, b]) => key(s, b))); }

  /** Cells not cached and not on their way. */
  missing(cells: [number, number][]): [number, number][] {
    // after a failed request, wait a moment before asking again (a redraw must not turn into a request loop)
    if (this.failedAt && this.now() - this.failedAt < 2000) return [];
    return cells.filter(([s, b]) => { const k = key(s, b); return !this.blocks.has(k) && !this.inflight.has(k); });
  }

  /** Fetch the missing ones of `cells` in one request; resolves when they are cached (or the request failed). */
  async want(cells: [number, number][]): Promise<void> {
    const need = this.missing(cells);
    if (!need.length) { await this.settled(cells); return; }
    const ks = need.map(([s, b]) => key(s, b));
    ks.forEach((k) => this.inflight.add(k));
    this.stats.requests++;
    try {
      const w = await this.fetch(need);
      this.store(need, w);
    } catch (e) {
      this.stats.failures++;
      this.failedAt = this.now();
      this.lastError = (e as Error).message;
    } finally {
      ks.forEach((k) => this.inflight.delete(k));
      for (const f of this.waiters.splice(0)) f();
    }
    this.onArrive();
    await this.settled(cells);
  }

  private waiters: (() => void)[] = [];
  /** Resolves once no cell of `cells` is on its way. */
  private settled(cells: [number, number][]): Promise<void> {
    if (!cells.some(([s, b]) => this.inflight.has(key(s, b)))) return Promise.resolve();
    return new Promise((res) => { this.waiters.push(() => void this.settled(cells).then(res)); });
  }

  /** Split a `rollout/window` answer into blocks (layout: protocol.ts StepWindow). */
  store(cells: [number, number][], w: StepWindow): void {
    const data = toFloat32(w.data);
    const A = this.arrays.length;
    let at = 0;
    cells.forEach(([sample, block], k) => {
      const L = this.lengthOf(sample);
      const t0 = Math.min(L, block * this.blockTokens), n = Math.max(0, Math.min(L, t0 + this.blockTokens) - t0);
      const len = at + A * n <= data.length ? A * n : 0;
      const arr = data.slice(at, at + len);
      at += len;
      const step: RolloutStep = {
        header: { kind: 'header', step: 0, algorithm: '', groups: [], arrays: len ? [...this.arrays] : [], numSamples: 1 } as unknown as RolloutStep['header'],
        samples: [{ kind: 'sample', index: 0, group: '', reward: NaN, length: n, tokens: [], offset: len ? 0 : undefined } as unknown as RolloutStep['samples'][number]],
        data: arr,
      };
      const b: WindowBlock = { sample, block, t0, n, step, tokens: w.tokens[k] ?? [], bytes: arr.byteLength + 64 * n, memo: new Map() };
      const kk = key(sample, block);
      const old = this.blocks.get(kk);
      if (old) this.bytes -= old.bytes;
      this.blocks.set(kk, b);
      this.bytes += b.bytes;
      this.stats.cellsFetched++;
      this.stats.bytesFetched += arr.byteLength;
    });
    this.evict();
  }

  private evict(): void {
    if (this.bytes <= this.budgetBytes) return;
    for (const [k, b] of this.blocks) {
      if (this.bytes <= this.budgetBytes) break;
      if (this.protect.has(k)) continue;
      this.blocks.delete(k);
      this.bytes -= b.bytes;
      this.stats.evicted++;
    }
  }

  get size(): number { return this.blocks.size; }
}
