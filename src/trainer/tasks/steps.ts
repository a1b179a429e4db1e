/**
 * Multi-step arithmetic with a scratchpad: the built-in task with a STEP STRUCTURE (Step-DPO, process reward models,
 * and any method that needs to know where a reasoning step starts and ends).
 *
 *   prompt "12+34+5="   answer "12+34=46 46+5=51"
 *
 * The answer is a chain of steps separated by a space (STEP_DELIMITER; the built-in character vocabulary has no `;`); step i adds the next operand to the running sum:
 * `${acc_i}+${x_{i+1}}=${acc_i + x_{i+1}}` with acc_0 = x_0. The final answer is the result of the last step.
 * A step is a UNIT OF TEXT WITH ITS TERMINATOR: the delimiter after a step that is not the last one, EOS after the
 * last one. So "the next step" is exactly what a model writes between two terminators, and the step's last token (the
 * delimiter or EOS) is where a process reward model reads its score (OpenRLHF's PRM reads at a step tag; PRIME / verl put a
 * step's reward on its last token).
 *
 * Verifier (per step, from the prompt alone): step i is correct iff its text equals the canonical step i (the true
 * running sum, the next operand, their sum) AND its terminator is right (the delimiter for i < n − 2, EOS for the last step,
 * i = n − 2 with n operands). Steps beyond the last, an unterminated (truncated) step and a step after which the
 * model stops too early are wrong. Because the running sum is the TRUE one, a step that builds on an earlier error is
 * wrong too (the Math-Shepherd notion: it no longer leads to the right answer), unless the model silently repairs
 * the sum (then that step is right again).
 *
 * Difficulty: 1 = three operands 0..9; 2 = four operands 0..9; 3 = three operands 0..99.
 * Reward parts: accuracy (the exact canonical chain, ended with EOS), format (a well-formed chain ended with EOS),
 * step_accuracy (fraction of the canonical steps that are correct: monitoring, in the score only with
 * task.partialCredit, weighted by partialWeight, as `partial`). pass@k: accuracy.
 *
 * Reusable (other methods with steps: DELTA, GHPO): `splitSteps`, `parseStep`, `checkSteps`, `firstErrorStep`,
 * `stepEndTokens`; a task has steps when `hasSteps(task)` (it implements `StepTask.steps`).
 */
import type { Rng } from '../rng';
import { BaseTask, type Task, type TaskExample } from './types';

/** Separator between steps. */
export const STEP_DELIMITER = ' ';

/** One step of a completion as written: its text (without terminator) and where it lies in the completion. */
export interface StepSpan {
  /** the step's text without its terminator */
  text: string;
  /** index of the step's first character in the completion */
  start: number;
  /** index one past the step's LAST character INCLUDING its delimiter when it has one (= start of the next step) */
  end: number;
  /** how the step ends: the delimiter, EOS (the completion ended there and the model stopped), or 'none' (truncated) */
  terminator: 'delimiter' | 'eos' | 'none';
}

/**
 * Split a completion (decoded text, EOS excluded) into steps. `finished` = the model ended it with EOS (then the last
 * step's terminator is EOS, else 'none'). An empty completion has no steps; a trailing delimiter ends the last step
 * (no empty step after it is reported, but the completion is then unfinished business: see checkSteps).
 */
export function splitSteps(completion: string, finished = true, delimiter = STEP_DELIMITER): StepSpan[] {
  const out: StepSpan[] = [];
  let start = 0;
  while (start < completion.length) {
    const k = completion.indexOf(delimiter, start);
    if (k < 0) { out.push({ text: completion.slice(start), start, end: completion.length, terminator: finished ? 'eos' : 'none' }); break; }
    out.push({ text: completion.slice(start, k), start, end: k + delimiter.length, terminator: 'delimiter' });
    start = k + delimiter.length;
  }
  return out;
}

/** "a+b=c" → { a, b, c } (non-negative integers without leading zeros); null when the step is not of that form. */
export function parseStep(text: string): { a: number; b: number; c: number } | null {
  const m = /^(0|[1-9]\d*)\+(0|[1-9]\d*)=(0|[1-9]\d*)$/.exec(text);
  return m ? { a: Number(m[1]), b: Number(m[2]), c: Number(m[3]) } : null;
}

/** Operands of a prompt "x0+x1+…+xk=" (throws naming the prompt when it is not of that form). */
export function promptOperands(prompt: string): number[] {
  if (!/^\d+(\+\d+)+=$/.test(prompt)) throw new Error(`arithmetic-steps: prompt ${JSON.stringify(prompt)} is not of the form "a+b+…="`);
  return prompt.slice(0, -1).split('+').map(Number);
}

/** The canonical chain of steps for operands x: ["x0+x1=s1", "s1+x2=s2", …]. */
export function canonicalSteps(x: number[]): string[] {
  const out: string[] = [];
  let acc = x[0];
  for (let i = 1; i < x.length; i++) { out.push(`${acc}+${x[i]}=${acc + x[i]}`); acc += x[i]; }
  return out;
}

/** A checked step: its span and whether the verifier accepts it. */
export interface CheckedStep extends StepSpan { correct: boolean }

/**
 * Verify each step of a completion against the prompt's operands (rule in the file comment). Every step the model
 * wrote is reported (extra steps are wrong). A completion that ends right after a delimiter (truncated or EOS after
 * ";") gets no extra entry; it simply lacks the remaining steps (checkSteps(...).length < n − 1).
 */
export function checkSteps(prompt: string, completion: string, finished = true): CheckedStep[] {
  const want = canonicalSteps(promptOperands(prompt));
  return splitSteps(completion, finished).map((s, i) => {
    const last = i === want.length - 1;
    const termOk = i < want.length && (last ? s.terminator === 'eos' : s.terminator === 'delimiter');
    return { ...s, correct: i < want.length && s.text === want[i] && termOk };
  });
}

/** Index of the first wrong step (−1 when every written step is right). */
export function firstErrorStep(steps: readonly { correct: boolean }[]): number {
  return steps.findIndex((s) => !s.correct);
}

/**
 * Token index of each step's last token (its terminator: the delimiter, or EOS at index `tokens` when the completion
 * was finished; for a truncated last step its last character), from the character offsets of the tokens.
 * `tokenEnds[j]` = character offset one past token j in the decoded completion (EOS excluded), so this works for
 * any tokenizer whose tokens decode to consecutive pieces of the text; for the character tokenizer tokenEnds[j] = j + 1.
 * → one token index per step (−1 when a step has no token, which cannot happen for a non-empty step).
 */
export function stepEndTokens(steps: readonly StepSpan[], tokenEnds: readonly number[], finished: boolean): number[] {
  return steps.map((s) => {
    if (s.terminator === 'eos' && finished) return tokenEnds.length; // the EOS token follows the text's tokens
    // the token that contains the step's last character (end − 1)
    const j = tokenEnds.findIndex((e) => e >= s.end);
    return j;
  });
}

/** Summary of a completion's steps: fraction of the canonical steps that were written correctly, and the first error. */
export function stepAccuracy(prompt: string, completion: string, finished = true): { correct: number; total: number; accuracy: number; firstError: number } {
  const n = promptOperands(prompt).length - 1;
  const st = checkSteps(prompt, completion, finished);
  let correct = 0;
  for (let i = 0; i < Math.min(n, st.length); i++) if (st[i].correct) correct++;
  const fe = firstErrorStep(st);
  // first error: the first wrong step written, else the first missing step (stopped early), else −1 (all right)
  return { correct, total: n, accuracy: correct / n, firstError: fe >= 0 ? fe : st.length < n ? st.length : -1 };
}

/** A task whose completions are chains of verifiable steps. */
export interface StepTask extends Task {
  readonly stepDelimiter: string;
  /** the steps of a completion, each verified */
  steps(ex: TaskExample, completion: string, finished: boolean): CheckedStep[];
  /** the canonical steps of a problem (what a perfect completion writes, without terminators) */
  referenceSteps(ex: TaskExample): string[];
}

export function hasSteps(task: unknown): task is StepTask {
  return !!task && typeof (task as StepTask).steps === 'function' && typeof (task as StepTask).referenceSteps === 'function';
}

export class ArithmeticStepsTask extends BaseTask implements StepTask {
  readonly name = 'arithmetic-steps';
  readonly description = 'multi-step sums with a scratchpad: "12+34+5=" → "12+34=46 46+5=51" (steps separated by a space)';
  readonly maxDifficulty = 3;
  readonly chars = '0123456789+= ';
  readonly stepDelimiter = STEP_DELIMITER;
  protected readonly align = 'left' as const;

  private get d(): number { return this.options.difficulty; }
  private get nOperands(): number { return this.d === 2 ? 4 : 3; }
  private get range(): number { return this.d === 3 ? 100 : 10; }

  maxPromptLength(): number { return this.nOperands * String(this.range - 1).length + this.nOperands; }
  maxAnswerLength(): number {
    const m = this.range - 1;
    return canonicalSteps(Array(this.nOperands).fill(m)).join(STEP_DELIMITER).length;
  }

  protected generate(rng: Rng): TaskExample {
    const x = Array.from({ length: this.nOperands }, () => rng.int(this.range));
    const prompt = `${x.join('+')}=`;
    return { id: prompt, prompt, answer: canonicalSteps(x).join(STEP_DELIMITER), difficulty: this.d };
  }

  protected wellFormed(c: string): boolean { return /^\d+\+\d+=\d+( \d+\+\d+=\d+)*$/.test(c); }

  steps(ex: TaskExample, completion: string, finished: boolean): CheckedStep[] { return checkSteps(ex.prompt, completion, finished); }
  referenceSteps(ex: TaskExample): string[] { return canonicalSteps(promptOperands(ex.prompt)); }

  /** A well-formed chain with one arithmetic slip (a step's sum off by 1, 2 or 10, later steps carrying it on). */
  corrupt(ex: TaskExample, rng: Rng): string {
    const x = promptOperands(ex.prompt);
    const k = rng.int(x.length - 1);
    const delta = [1, -1, 2, 10][rng.int(4)];
    const out: string[] = [];
    let acc = x[0];
    for (let i = 1; i < x.length; i++) {
      let s = acc + x[i];
      if (i - 1 === k) s = s + delta < 0 ? s + 1 : s + delta;
      out.push(`${acc}+${x[i]}=${s}`);
      acc = s;
    }
    return out.join(STEP_DELIMITER);
  }

  override reward(ex: TaskExample, completion: string, finished = true) {
    const r = super.reward(ex, completion, finished);
    const sa = stepAccuracy(ex.prompt, completion, finished).accuracy;
    r.parts.step_accuracy = sa;
    if (this.options.partialCredit) {
      // partial credit = the fraction of correct steps (instead of the base class's positional match)
      r.score += this.options.partialWeight * ((r.parts.accuracy ? 0 : sa) - (r.parts.partial ?? 0));
      r.parts.partial = r.parts.accuracy ? 0 : sa;
    }
    return r;
  }
}
