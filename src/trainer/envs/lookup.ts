/**
 * Built-in environment `lookup`: a small built-in table (LOOKUP_TABLE: ten keys a–h, r, s → two-digit values) that
 * only the tool can read. The prompt names `keys` keys (default 2: `c+f:`); the answer is the sum of their values. The tool looks
 * up one key (`?c=` → `47 `); an unknown key or anything else gets the error observation and a per-turn reward of
 * −0.1. Reward: accuracy (answer = the sum, ended with EOS) + 0.1·format (an integer, EOS).
 */
import type { Rng } from '../rng';
import { splitOf } from '../tasks/types';
import { BAD_CALL_REWARD, fixedEvalItems } from './calc';
import { RESULT_END, TOOL_CLOSE, TOOL_ERROR, TOOL_OPEN, type EnvItem, type EnvReward, type Environment, type ToolResult } from './types';

/** The table (fixed: the same for every run). */
export const LOOKUP_TABLE: Readonly<Record<string, number>> = { a: 17, b: 42, c: 35, d: 68, e: 23, f: 51, g: 94, h: 12, r: 76, s: 39 };
const KEYS = Object.keys(LOOKUP_TABLE);
const FORMAT_WEIGHT = 0.1;

export class LookupEnvironment implements Environment {
  readonly name = 'lookup';
  readonly description = 'sum the values of keys of a built-in table that only the tool ?key= can read';
  readonly chars = '0123456789+=:?abcdefghrs ';
  readonly badCallReward = BAD_CALL_REWARD;
  /** `keys`: how many keys a prompt names (≥ 1) */
  constructor(readonly keys = 2, readonly evalFraction = 0.1) {
    if (!Number.isInteger(keys) || keys < 1) throw new Error(`lookup environment: keys must be an integer ≥ 1, got ${JSON.stringify(keys)}`);
  }
  private generate(rng: Rng): EnvItem {
    const ks = Array.from({ length: this.keys }, () => KEYS[rng.int(KEYS.length)]);
    return { prompt: `${ks.join('+')}:`, answer: String(ks.reduce((a, k) => a + LOOKUP_TABLE[k], 0)), keys: ks };
  }
  sample(rng: Rng, split: 'train' | 'eval'): EnvItem {
    for (let i = 0; i < 10000; i++) { const it = this.generate(rng); if (splitOf(it.prompt, this.evalFraction) === split) return it; }
    throw new Error(`lookup environment: could not draw a ${split} problem`);
  }
  evalItems(n: number): EnvItem[] { return fixedEvalItems(this, n, (r) => this.generate(r), this.evalFraction); }
  tool(_item: EnvItem, args: string): ToolResult {
    const v = Object.prototype.hasOwnProperty.call(LOOKUP_TABLE, args) ? LOOKUP_TABLE[args] : undefined;
    return v === undefined ? { output: TOOL_ERROR, error: `lookup: unknown key ${JSON.stringify(args)} (keys: ${KEYS.join(', ')})`, reward: BAD_CALL_REWARD } : { output: String(v) };
  }
  finalReward(item: EnvItem, answer: string, finished: boolean): EnvReward {
    const accuracy = finished && answer === item.answer ? 1 : 0;
    const format = finished && /^\d+$/.test(answer) ? 1 : 0;
    return { score: accuracy + FORMAT_WEIGHT * format, parts: { accuracy, format }, correct: accuracy === 1 };
  }
  demo(item: EnvItem): string {
    return (item.keys as string[]).map((k) => `${TOOL_OPEN}${k}${TOOL_CLOSE}${LOOKUP_TABLE[k]}${RESULT_END}`).join('') + item.answer;
  }
}
