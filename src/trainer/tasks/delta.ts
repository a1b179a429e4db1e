/**
 * The DELTA task family (docs/algorithms.md "DELTA"; algorithms/delta.ts): a task the base model never solves
 * (pass@k = 0 even at large k), with a dense reward (partial credit per test case) and a binary one.
 *
 *   delta-shift   "d:4821=" → "5932": every digit + 1 (mod 10). The warm start (rl.warmStart.demoNoise 1 in the
 *                 preset) only ever shows the base behaviour `corrupt` = copy the digits ("d:4821=" → "4821"), so the
 *                 base model copies: every copied digit is wrong, and the right answer is never among its samples.
 *                 Test cases: one per answer position (digit i right) plus one for the length; reward parts
 *                   dense     share of test cases passed (algorithms/delta.ts denseTestCaseReward)
 *                   accuracy  1 when all pass = exact answer (binaryTestCaseReward), the binary reward
 *                 score = accuracy (binary) unless rl.rewardSchedule picks `dense` for the first steps.
 * Difficulty = number of digits: 1 → 2..3, 2 → 3..4, 3 → 4..5, 4 → 5..6.
 */
import type { Rng } from '../rng';
import { binaryTestCaseReward, deltaTestCases, denseTestCaseReward } from '../algorithms/delta';

export { deltaTestCases };
import { BaseTask, type RewardResult, type TaskExample } from './types';

const DIGITS: Record<number, [number, number]> = { 1: [2, 3], 2: [3, 4], 3: [4, 5], 4: [5, 6] };

/** Each digit + shift (mod 10): the target behaviour. */
export function shiftDigits(s: string, shift = 1): string {
  return Array.from(s).map((c) => String((Number(c) + shift) % 10)).join('');
}

export class DeltaShiftTask extends BaseTask {
  readonly name = 'delta-shift';
  readonly description = 'DELTA: shift every digit by one ("d:4821=" → "5932"); the base model only copies (pass@k = 0); dense reward = share of digits right';
  readonly maxDifficulty = 4;
  readonly chars = '0123456789d:=';
  protected readonly align = 'left' as const;

  private lengths(): [number, number] { return DIGITS[this.options.difficulty] ?? DIGITS[1]; }
  maxPromptLength(): number { return this.lengths()[1] + 3; }
  maxAnswerLength(): number { return this.lengths()[1]; }

  protected generate(rng: Rng): TaskExample {
    const [lo, hi] = this.lengths();
    let s = '';
    for (let i = lo + rng.int(hi - lo + 1); i > 0; i--) s += String(rng.int(10));
    const prompt = `d:${s}=`;
    return { id: prompt, prompt, answer: shiftDigits(s), difficulty: this.options.difficulty, digits: s };
  }

  protected wellFormed(c: string): boolean { return /^\d+$/.test(c); }

  /** The base behaviour the warm start teaches (with demoNoise 1): copy the digits. Never the answer (every digit differs). */
  corrupt(ex: TaskExample): string { return String(ex.prompt).slice(2, -1); }

  override reward(ex: TaskExample, completion: string, finished = true): RewardResult {
    const cases = deltaTestCases(finished ? completion : `${completion}\u0000`, ex.answer);
    const format = finished && this.wellFormed(completion) ? 1 : 0;
    const accuracy = binaryTestCaseReward(cases);
    return { score: accuracy, parts: { accuracy, dense: denseTestCaseReward(cases), format } };
  }
}
