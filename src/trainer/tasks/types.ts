/**
 * Tasks with verifiable rewards. A task generates problems (prompt + reference answer) deterministically, splits them
 * into train / eval by a hash of the prompt (so eval prompts are never trained on), gives demonstrations for SFT and
 * scores completions with a reward that has named parts (e.g. accuracy, format, partial).
 */
import { Rng } from '../rng';

export interface TaskExample {
  /** stable id (the prompt text) */
  id: string;
  /** the text after BOS that the model continues */
  prompt: string;
  /** the reference answer (what a perfect completion is, without EOS) */
  answer: string;
  difficulty: number;
  [k: string]: unknown;
}

export interface RewardResult {
  /** total reward */
  score: number;
  /** named parts, e.g. { accuracy: 1, format: 0.1 } (they need not sum to score when a user module says otherwise) */
  parts: Record<string, number>;
}

export interface TaskOptions {
  /** difficulty level, 1 (easiest) … maxDifficulty */
  difficulty: number;
  /** weight of the format part of the reward (default 0.1) */
  formatWeight: number;
  /** give partial credit for a wrong but close answer (default false) */
  partialCredit: boolean;
  /** weight of the partial part (default 0.5) */
  partialWeight: number;
  /** fraction of problems held out for eval (default 0.1) */
  evalFraction: number;
}

export interface Task {
  readonly name: string;
  readonly description: string;
  readonly maxDifficulty: number;
  /** characters the prompts and answers use (the tokenizer must contain them) */
  readonly chars: string;
  readonly options: TaskOptions;
  /** longest prompt (chars, BOS excluded) and answer (EOS excluded) at this difficulty */
  maxPromptLength(): number;
  maxAnswerLength(): number;
  /** a random problem of the split */
  sample(rng: Rng, split: 'train' | 'eval'): TaskExample;
  /** a fixed list of n eval problems (same for every run with the same task options) */
  evalSet(n: number): TaskExample[];
  /** a well-formatted but wrong answer (for noisy demonstrations) */
  corrupt(ex: TaskExample, rng: Rng): string;
  /** score a completion (decoded text, EOS excluded); `finished` = the model ended it with EOS */
  reward(ex: TaskExample, completion: string, finished?: boolean): RewardResult;
  /** exact correctness, for pass@k */
  isCorrect(ex: TaskExample, completion: string): boolean;
  /** solved, for pass@k; default (isSolved): ended with EOS and isCorrect. Tasks whose answers are judged by their text alone (stories) override it. */
  solved?(ex: TaskExample, completion: string, finished: boolean): boolean;
}

/** Does a completion count as solved for pass@k? task.solved, else ended with EOS and task.isCorrect. */
export function isSolved(task: Task, ex: TaskExample, completion: string, finished: boolean): boolean {
  return task.solved ? task.solved(ex, completion, finished) : finished && task.isCorrect(ex, completion);
}

export const DEFAULT_TASK_OPTIONS: TaskOptions = { difficulty: 1, formatWeight: 0.1, partialCredit: false, partialWeight: 0.5, evalFraction: 0.1 };

/** FNV-1a of the prompt → [0,1): decides the split. */
export function splitOf(prompt: string, evalFraction: number): 'train' | 'eval' {
  let h = 0x811c9dc5;
  for (let i = 0; i < prompt.length; i++) { h ^= prompt.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  h ^= h >>> 13; h = Math.imul(h, 0x5bd1e995); h ^= h >>> 15;
  return ((h >>> 0) / 4294967296) < evalFraction ? 'eval' : 'train';
}

/** Fraction of positions (aligned from the right for numbers, from the left for strings) where two strings agree. */
export function positionalMatch(got: string, want: string, align: 'left' | 'right'): number {
  if (want.length === 0) return got.length === 0 ? 1 : 0;
  const n = Math.max(got.length, want.length);
  let same = 0;
  for (let i = 0; i < want.length; i++) {
    const a = align === 'left' ? got[i] : got[got.length - 1 - i];
    const b = align === 'left' ? want[i] : want[want.length - 1 - i];
    if (a !== undefined && a === b) same++;
  }
  return same / n;
}

/**
 * Base class: subclasses give `generate(rng)` (a problem at the configured difficulty), `wellFormed(completion)` and
 * the alignment for partial credit. Reward = accuracy + formatWeight·format (+ partialWeight·partial when wrong).
 */
export abstract class BaseTask implements Task {
  abstract readonly name: string;
  abstract readonly description: string;
  abstract readonly maxDifficulty: number;
  abstract readonly chars: string;
  readonly options: TaskOptions;
  protected abstract readonly align: 'left' | 'right';

  constructor(opts: Partial<TaskOptions> = {}) {
    this.options = { ...DEFAULT_TASK_OPTIONS, ...opts };
  }

  abstract maxPromptLength(): number;
  abstract maxAnswerLength(): number;
  protected abstract generate(rng: Rng): TaskExample;
  protected abstract wellFormed(completion: string): boolean;
  abstract corrupt(ex: TaskExample, rng: Rng): string;

  sample(rng: Rng, split: 'train' | 'eval'): TaskExample {
    for (let i = 0; i < 10000; i++) {
      const ex = this.generate(rng);
      if (splitOf(ex.prompt, this.options.evalFraction) === split) return ex;
    }
    throw new Error(`task ${this.name}: could not draw a ${split} problem at difficulty ${this.options.difficulty} (evalFraction ${this.options.evalFraction})`);
  }

  evalSet(n: number): TaskExample[] {
    // fixed generator, independent of the run seed: every run of this task/difficulty evaluates the same prompts
    const rng = new Rng(0xe7a1 + this.options.difficulty);
    const seen = new Set<string>();
    const out: TaskExample[] = [];
    for (let i = 0; i < n * 200 && out.length < n; i++) {
      const ex = this.generate(rng);
      if (seen.has(ex.prompt) || splitOf(ex.prompt, this.options.evalFraction) !== 'eval') continue;
      seen.add(ex.prompt);
      out.push(ex);
    }
    // small problem spaces: allow repeats rather than fewer prompts
    for (let i = 0; out.length < n && out.length > 0; i++) out.push(out[i]);
    return out;
  }

  isCorrect(ex: TaskExample, completion: string): boolean { return completion === ex.answer; }

  reward(ex: TaskExample, completion: string, finished = true): RewardResult {
    const accuracy = this.isCorrect(ex, completion) && finished ? 1 : 0;
    const format = finished && this.wellFormed(completion) ? 1 : 0;
    const parts: Record<string, number> = { accuracy, format };
    let score = accuracy + this.options.formatWeight * format;
    if (this.options.partialCredit) {
      const partial = accuracy ? 0 : positionalMatch(completion, ex.answer, this.align);
      parts.partial = partial;
      score += this.options.partialWeight * partial;
    }
    return { score, parts };
  }
}
