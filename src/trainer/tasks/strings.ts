/**
 * String tasks: reverse ("r:abc=" → "cba"), sort digits ("s:3142=" → "1234"), count a letter ("c:a:abcab=" → "2").
 * Difficulty sets the length: 1 = 2..4, 2 = 3..6, 3 = 5..8, 4 = 7..10.
 */
import type { Rng } from '../rng';
import { BaseTask, type TaskExample } from './types';

const LETTERS = 'abcdefgh';
const LENGTHS: Record<number, [number, number]> = { 1: [2, 4], 2: [3, 6], 3: [5, 8], 4: [7, 10] };

abstract class LengthTask extends BaseTask {
  readonly maxDifficulty = 4;
  protected len(rng: Rng): number { const [lo, hi] = LENGTHS[this.options.difficulty] ?? LENGTHS[1]; return lo + rng.int(hi - lo + 1); }
  protected maxLen(): number { return (LENGTHS[this.options.difficulty] ?? LENGTHS[1])[1]; }
}

export class ReverseTask extends LengthTask {
  readonly name = 'reverse';
  readonly description = 'reverse a string of letters: "r:abc=" → "cba"';
  readonly chars = LETTERS + 'r:=';
  protected readonly align = 'left' as const;
  maxPromptLength(): number { return this.maxLen() + 3; }
  maxAnswerLength(): number { return this.maxLen(); }
  protected generate(rng: Rng): TaskExample {
    let s = '';
    for (let i = this.len(rng); i > 0; i--) s += LETTERS[rng.int(LETTERS.length)];
    const prompt = `r:${s}=`;
    return { id: prompt, prompt, answer: Array.from(s).reverse().join(''), difficulty: this.options.difficulty };
  }
  protected wellFormed(c: string): boolean { return /^[a-h]+$/.test(c); }
  corrupt(ex: TaskExample, rng: Rng): string {
    const a = Array.from(ex.answer);
    const i = rng.int(a.length);
    a[i] = LETTERS[(LETTERS.indexOf(a[i]) + 1 + rng.int(LETTERS.length - 1)) % LETTERS.length];
    return a.join('');
  }
}

export class SortDigitsTask extends LengthTask {
  readonly name = 'sort';
  readonly description = 'sort digits ascending: "s:3142=" → "1234"';
  readonly chars = '0123456789s:=';
  protected readonly align = 'left' as const;
  maxPromptLength(): number { return this.maxLen() + 3; }
  maxAnswerLength(): number { return this.maxLen(); }
  protected generate(rng: Rng): TaskExample {
    let s = '';
    for (let i = this.len(rng); i > 0; i--) s += String(rng.int(10));
    const prompt = `s:${s}=`;
    return { id: prompt, prompt, answer: Array.from(s).sort().join(''), difficulty: this.options.difficulty };
  }
  protected wellFormed(c: string): boolean { return /^\d+$/.test(c); }
  corrupt(ex: TaskExample, rng: Rng): string {
    const a = Array.from(ex.answer);
    if (a.length >= 2) { const i = rng.int(a.length - 1); [a[i], a[i + 1]] = [a[i + 1], a[i]]; if (a.join('') !== ex.answer) return a.join(''); }
    a[0] = String((Number(a[0]) + 1) % 10);
    return a.join('');
  }
}

export class CountLetterTask extends LengthTask {
  readonly name = 'count';
  readonly description = 'count a letter in a string: "c:a:abcab=" → "2"';
  readonly chars = '0123456789' + LETTERS + 'c:=';
  protected readonly align = 'right' as const;
  maxPromptLength(): number { return this.maxLen() + 5; }
  maxAnswerLength(): number { return 2; }
  protected generate(rng: Rng): TaskExample {
    const target = LETTERS[rng.int(4)];
    let s = '';
    // letters from a smaller alphabet so the target appears often enough
    for (let i = this.len(rng); i > 0; i--) s += LETTERS[rng.int(4)];
    const prompt = `c:${target}:${s}=`;
    return { id: prompt, prompt, answer: String(Array.from(s).filter((ch) => ch === target).length), difficulty: this.options.difficulty };
  }
  protected wellFormed(c: string): boolean { return /^\d+$/.test(c); }
  corrupt(ex: TaskExample, rng: Rng): string {
    const v = Number(ex.answer);
    return String(v === 0 ? 1 : v + (rng.next() < 0.5 ? -1 : 1));
  }
}
