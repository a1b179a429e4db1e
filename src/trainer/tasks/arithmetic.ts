/**
 * Arithmetic, the survey's own example ("2 + 3 = ?"): prompt "2+3=", answer "5".
 * Difficulty: 1 = a+b with a,b ∈ 0..9; 2 = a+b with a,b ∈ 0..99; 3 = a±b with a,b ∈ 0..99; 4 = a±b with a,b ∈ 0..999.
 * Reward parts: accuracy (exact integer), format (an integer, ended with EOS), partial (digits right-aligned, optional).
 */
import type { Rng } from '../rng';
import { BaseTask, type TaskExample } from './types';

export class ArithmeticTask extends BaseTask {
  readonly name = 'arithmetic';
  readonly description = 'a+b (and a−b) of small integers: "2+3=" → "5"';
  readonly maxDifficulty = 4;
  readonly chars = '0123456789+-=';
  protected readonly align = 'right' as const;

  private range(): number { return [10, 10, 100, 100, 1000][this.options.difficulty] ?? 10; }
  private get d(): number { return this.options.difficulty; }

  maxPromptLength(): number { const w = String(this.range() - 1).length; return 2 * w + 2; }
  maxAnswerLength(): number { const w = String(2 * (this.range() - 1)).length; return this.d >= 3 ? Math.max(w, String(this.range() - 1).length + 1) : w; }

  protected generate(rng: Rng): TaskExample {
    const r = this.d === 1 ? 10 : this.d === 2 ? 100 : this.d === 3 ? 100 : 1000;
    const a = rng.int(r), b = rng.int(r);
    const sub = this.d >= 3 && rng.next() < 0.5;
    const prompt = `${a}${sub ? '-' : '+'}${b}=`;
    return { id: prompt, prompt, answer: String(sub ? a - b : a + b), difficulty: this.d };
  }

  protected wellFormed(c: string): boolean { return /^-?\d+$/.test(c) && !/^-?0\d/.test(c); }

  corrupt(ex: TaskExample, rng: Rng): string {
    const v = Number(ex.answer);
    const delta = [1, -1, 10, -10, 2][rng.int(5)];
    const w = v + delta;
    return String(this.d < 3 && w < 0 ? v + 1 : w);
  }
}
