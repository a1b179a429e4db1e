/**
 * rl-lens diff-tokens CKPT_A CKPT_B --completions FILE|RUN_DIR[:STEP] [--out DIR] [--top-k K] [--batch N]
 *                    [--temperature T] [--min-count N] [--force] [--json] [--backend B]
 *
 * The same completions teacher-forced under checkpoints A and B (src/trainer/diffTokens.ts): per token log-prob,
 * entropy, rank and top-k under each, KL(B‖A); per completion Σ Δlogprob; the tokens that rose and fell most.
 * Writes the folder described in docs/run-format.md ("Token comparison"), by default `CKPT_B/token-diff/<key>/`
 * (reused when already there, unless --force). Prints a short summary (top 10 risers and fallers) and the folder on
 * stdout (--json: summary.json's path and counts as one JSON line); progress on stderr.
 * Exit codes: 0 ok, 1 failed (bad checkpoint / completions: the message names the file), 2 bad usage.
 */
import { BACKEND_CHOICES, initBackend } from '../trainer/backend';
import { diffCheckpoints, type TokenStat } from '../trainer/diffTokens';
import { backendValue, optionValue } from './args';

export interface DiffTokensArgs {
  a: string;
  b: string;
  completions: string;
  out?: string;
  topK: number;
  batch: number;
  temperature?: number;
  minCount: number;
  force: boolean;
  /** compare two checkpoints with the same weights (an alias of the same step, identical files) */
  allowSame: boolean;
  json: boolean;
  /** progress as JSON lines {"type":"progress","message","done","total"} on stderr (the extension reads them) */
  progressEvents: boolean;
  backend: string;
}

export const DIFF_TOKENS_USAGE = `usage: rl-lens diff-tokens CKPT_A CKPT_B --completions FILE.jsonl|RUN_DIR[:STEP] [--out DIR] [--top-k 5] [--batch 32]
                          [--temperature T] [--min-count 3] [--force] [--allow-same] [--json] [--progress-events] [--backend ${BACKEND_CHOICES.join('|')}]
  A and B: checkpoint folders, or pretrained models (hf:owner/repo[/sub], a llama2.c .bin or folder, a Hugging Face
  folder); A may be "base": B's base model (its run's model.pretrained). Same family and tokenizer, else an error.
  Teacher-forces the same completions under A and B: per token log-prob, entropy, rank, top-k under each and KL(B‖A).
  Completions: a run's rollout step (its sampled token ids; default the last step) or a JSONL of {"prompt","completion"}.
  --temperature: logits ÷ T (default: the run's sampling temperature for a rollout step, else 1).
  Output: DIR, default CKPT_B/token-diff/<key>/ (reused unless --force; B a pretrained model: --out is required).
  The completions are checked (the step exists, the JSONL parses) before any model is loaded.
  Two checkpoints with the same weights (the same step of one run, e.g. step_N and step_N_final, or byte-identical
  weight files) are refused: every Δ would be 0; --allow-same compares them anyway.
  --progress-events: progress as JSON lines {"type":"progress","message","done","total"} on stderr.
`;

export function parseDiffTokensArgs(argv: string[]): DiffTokensArgs {
  const a: Partial<DiffTokensArgs> = { topK: 5, batch: 32, minCount: 3, force: false, allowSame: false, json: false, progressEvents: false, backend: 'auto' };
  const pos: string[] = [];
  const val = (i: number, f: string) => optionValue(argv, i, f);
  const int = (i: number, f: string) => { const v = Number(val(i, f)); if (!Number.isInteger(v) || v < 1) throw new Error(`${f} must be a positive integer, got ${JSON.stringify(argv[i + 1])}`); return v; };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    switch (f) {
      case '--completions': case '-c': a.completions = val(i, f); i++; break;
      case '--out': case '-o': a.out = val(i, f); i++; break;
      case '--top-k': a.topK = int(i, f); i++; break;
      case '--batch': a.batch = int(i, f); i++; break;
      case '--min-count': a.minCount = int(i, f); i++; break;
      case '--temperature': { const v = Number(val(i, f)); if (!(v > 0)) throw new Error(`--temperature must be > 0, got ${JSON.stringify(argv[i + 1])}`); a.temperature = v; i++; break; }
      case '--force': a.force = true; break;
      case '--allow-same': a.allowSame = true; break;
      case '--json': a.json = true; break;
      case '--progress-events': a.progressEvents = true; break;
      case '--backend': a.backend = backendValue(argv, i, f); i++; break;
      default:
        if (f.startsWith('-')) throw new Error(`unknown option ${f}`);
        pos.push(f);
    }
  }
  if (pos.length !== 2) throw new Error(`expected two checkpoint folders (A and B; A may be "base" or a model), got ${pos.length}`);
  [a.a, a.b] = pos;
  if (!a.completions) throw new Error('--completions is required');
  return a as DiffTokensArgs;
}

const fmt = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(3);
const tokenRow = (s: TokenStat) => `  ${JSON.stringify(s.token).padEnd(16)} ${fmt(s.meanDelta).padStart(8)}  ×${s.count}`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(DIFF_TOKENS_USAGE); return 0; }
  let args: DiffTokensArgs;
  try { args = parseDiffTokensArgs(argv); } catch (e) { process.stderr.write(`rl-lens diff-tokens: ${(e as Error).message}\n${DIFF_TOKENS_USAGE}`); return 2; }
  try {
    const be = await initBackend(args.backend);
    let last = 0;
    const ev = (message: string, done?: number, total?: number) => process.stderr.write(args.progressEvents
      ? JSON.stringify({ type: 'progress', message, ...(done !== undefined ? { done, total } : {}) }) + '\n'
      : `[rl-lens] diff-tokens ${message}\n`);
    const r = await diffCheckpoints(args.a, args.b, args.completions, {
      out: args.out, topK: args.topK, batch: args.batch, temperature: args.temperature, minCount: args.minCount, force: args.force, allowSame: args.allowSame, backend: be.name,
      onStage: (m) => ev(m),
      onProgress: (done, total) => {
        const now = Date.now();
        if (now - last > (args.progressEvents ? 500 : 2000) || done === total) { last = now; ev(`${done}/${total} completions`, done, total); }
      },
    });
    const s = r.summary;
    if (args.json) {
      process.stdout.write(JSON.stringify({ dir: r.dir, cached: r.cached, samples: s.counts.samples, tokens: s.counts.tokens, meanDelta: s.meanDelta, meanKl: s.meanKl, seconds: s.timings.computeSeconds }) + '\n');
      return 0;
    }
    const src = s.source.kind === 'rollout' ? `${s.source.path} step ${s.source.step}` : s.source.path;
    const lines = [
      `A ${s.a.dir} (${s.a.kind === 'base' ? 'base model' : `step ${s.a.step}`})`,
      `B ${s.b.dir} (${s.b.kind === 'base' ? 'pretrained model' : `step ${s.b.step}`})`,
      `${s.counts.samples} completions, ${s.counts.tokens} tokens from ${src}, temperature ${s.settings.temperature}${s.counts.truncated ? `, ${s.counts.truncated} cut to the context` : ''}`,
      `mean Δlogprob (B − A) ${fmt(s.meanDelta)} per token, mean KL(B‖A) ${s.meanKl.toFixed(4)}${r.cached ? ' (cached)' : `, ${s.timings.computeSeconds.toFixed(1)} s`}`,
      `risers (mean Δlogprob, tokens seen ≥ ${s.settings.minCount}×):`,
      ...(s.risers.slice(0, 10).map(tokenRow)), ...(s.risers.length ? [] : ['  (none)']),
      'fallers:',
      ...(s.fallers.slice(0, 10).map(tokenRow)), ...(s.fallers.length ? [] : ['  (none)']),
      `cached in: ${r.dir}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  } catch (e) {
    process.stderr.write(`rl-lens diff-tokens: ${(e as Error).message}\n`);
    return 1;
  }
}
