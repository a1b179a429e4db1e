/**
 * What the token comparison webview gets from a comparison folder (`rl-lens diff-tokens`, docs/run-format.md "Token
 * comparison"), host side and without `vscode`: the overview once (header, risers / fallers, one short row per
 * completion, no per-token data) and the per-token floats of the samples on screen (read from tokens.f32 by offset,
 * sent as one ArrayBuffer) with the display strings of their top-k ids.
 */
import * as path from 'path';
import * as fs from 'fs';
import type { TokenDiffOverview, TokenDiffPage, TokenDiffSideInfo } from '../../shared/protocol';
import { tokenDiffDomains } from '../../webview/data/tokenDiff';
import { readRolloutStepHeader } from '../../runio/reader';
import { TOKEN_DIFF_FILES, readTokenDiffBlock, readTokenDiffSamples, readTokenDiffSummary, tokenDiffStride, type CheckpointRef, type TokenDiffSampleLine, type TokenDiffSummary } from '../../runio/tokenDiff';

/** The most samples one `tokenDiff/samples` request may ask for. */
export const MAX_PAGE_SAMPLES = 100;

const short = (s: string, n = 200) => (s.length > n ? s.slice(0, n) : s);

export function sideInfo(r: CheckpointRef): TokenDiffSideInfo {
  if (r.kind === 'base') return { label: `base ${r.dir}`, dir: r.dir, step: 0, kind: 'base' };
  const run = path.basename(path.dirname(path.dirname(r.dir)));
  return { label: `${path.basename(r.dir)} (step ${r.step}${run ? `, ${run}` : ''})`, dir: r.dir, step: r.step, kind: 'checkpoint' };
}

export function sideShort(r: CheckpointRef): string {
  return r.kind === 'base' ? 'base' : `step ${r.step}`;
}

/** The completions of a comparison, short: "step 12 rollouts" or the JSONL file's name. */
export function sourceShort(s: Pick<TokenDiffSummary, 'source'>): string {
  return s.source.kind === 'rollout' ? `step ${s.source.step} rollouts` : path.basename(s.source.path);
}

/** A comparison folder opened for a view: summary, samples.jsonl and vocab.json read once; floats read per page. */
export class TokenDiffData {
  readonly summary: TokenDiffSummary;
  private readonly lines: TokenDiffSampleLine[];
  private readonly byIndex = new Map<number, number>();
  private readonly vocab: Record<string, string>;

  constructor(readonly dir: string) {
    const s = readTokenDiffSummary(dir);
    if (!s) throw new Error(`${path.join(dir, TOKEN_DIFF_FILES.summary)}: not a finished token comparison (format ${'rl-lens-token-diff'} v1)`);
    this.summary = s;
    this.lines = readTokenDiffSamples(dir);
    if (this.lines.length !== s.samples.length) throw new Error(`${path.join(dir, TOKEN_DIFF_FILES.samples)}: ${this.lines.length} lines, summary.json lists ${s.samples.length} samples`);
    this.lines.forEach((l, i) => this.byIndex.set(l.index, i));
    try { this.vocab = JSON.parse(fs.readFileSync(path.join(dir, s.vocab || TOKEN_DIFF_FILES.vocab), 'utf8')) as Record<string, string>; } catch { this.vocab = {}; }
  }

  /** the tab title: sides and completions, e.g. "Tokens: base → step 12 · step 12 rollouts" / "… · big.jsonl" */
  title(): string { return `Tokens: ${sideShort(this.summary.a)} → ${sideShort(this.summary.b)} · ${sourceShort(this.summary)}`; }

  private domains: TokenDiffOverview['domains'];

  /** Colour-domain statistics of every metric over all tokens (once per comparison; the whole tokens.f32 read once). */
  private allDomains(): TokenDiffOverview['domains'] {
    if (this.domains) return this.domains;
    const s = this.summary;
    const n = s.samples.length;
    const block = n ? readTokenDiffBlock(this.dir, s, 0, n) : { offset: 0, data: new Float32Array(0) };
    const rel = s.samples.map((x) => ({ offset: x.offset - block.offset, length: x.length }));
    return this.domains = tokenDiffDomains(s.arrays, rel, block.data);
  }

  overview(): TokenDiffOverview {
    const s = this.summary;
    const src = s.source.kind === 'rollout' ? `${path.basename(s.source.path)} step ${s.source.step}` : path.basename(s.source.path);
    let stored: TokenDiffOverview['stored'];
    if (s.source.kind === 'rollout' && s.source.step !== undefined) {
      try {
        const h = readRolloutStepHeader(s.source.path, s.source.step);
        if (h.subsampled) stored = { ...(typeof h.totalSamples === 'number' ? { totalSamples: h.totalSamples } : {}), groups: h.groups?.length, ...(typeof h.totalGroups === 'number' ? { totalGroups: h.totalGroups } : {}) };
      } catch { /* the run moved: no totals */ }
    }
    return {
      sourceShort: sourceShort(s), domains: this.allDomains(), ...(stored ? { stored } : {}),
      dir: path.resolve(this.dir),
      title: `What changed, token by token: ${sideShort(s.a)} → ${sideShort(s.b)}`,
      a: sideInfo(s.a), b: sideInfo(s.b), source: src,
      counts: s.counts, settings: { topK: s.settings.topK, temperature: s.settings.temperature, minCount: s.settings.minCount },
      meanDelta: s.meanDelta, meanKl: s.meanKl, risers: s.risers, fallers: s.fallers, arrays: s.arrays,
      samples: this.lines.map((l) => ({
        index: l.index, length: l.length, sumDelta: l.sumDelta, meanKl: l.meanKl, ...(l.truncated ? { truncated: true } : {}),
        ...(l.source?.reward !== undefined ? { reward: l.source.reward } : {}), ...(l.source?.group !== undefined ? { group: l.source.group } : {}),
        prompt: short(l.prompt), completion: short(l.completion),
      })),
      seconds: s.timings?.computeSeconds,
    };
  }

  /** Per-token data of the named samples (at most MAX_PAGE_SAMPLES), each sample's floats read from tokens.f32. */
  page(samples: unknown): TokenDiffPage {
    if (!Array.isArray(samples) || samples.length > MAX_PAGE_SAMPLES || !samples.every((x) => Number.isInteger(x))) throw new Error(`samples must be an array of at most ${MAX_PAGE_SAMPLES} sample indices`);
    const stride = tokenDiffStride(this.summary);
    const pos = (samples as number[]).map((i) => { const p = this.byIndex.get(i); if (p === undefined) throw new Error(`no sample ${i} in this comparison`); return p; });
    const total = pos.reduce((a, p) => a + stride * this.summary.samples[p].length, 0);
    const data = new Float32Array(total);
    const vocab: Record<string, string> = {};
    const out: TokenDiffPage['samples'] = [];
    const topNames = new Set(['top_a_id', 'top_b_id']);
    let at = 0;
    for (const p of pos) {
      const block = readTokenDiffBlock(this.dir, this.summary, p, 1).data;
      data.set(block, at);
      const l = this.lines[p];
      for (const id of l.tokenIds) if (this.vocab[String(id)] !== undefined) vocab[String(id)] = this.vocab[String(id)];
      out.push({ index: l.index, length: l.length, tokens: l.tokens, tokenIds: l.tokenIds, prompt: short(l.prompt, 400), completion: l.completion, offset: at });
      let o = 0;
      for (const a of this.summary.arrays) {
        const n = a.width * l.length;
        if (topNames.has(a.name)) for (let j = 0; j < n; j++) { const id = block[o + j]; if (Number.isFinite(id)) vocab[String(id)] = this.vocab[String(id)] ?? `#${id}`; }
        o += n;
      }
      at += block.length;
    }
    return { samples: out, data: data.buffer, vocab };
  }
}
