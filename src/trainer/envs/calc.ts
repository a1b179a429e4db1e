/**
 * Built-in environment `calc`: multi-step sums with a calculator tool. The prompt is k numbers to add
 * (`37+48+19:`); the calculator evaluates a sum / difference of up to 4-digit numbers (`?37+48=` → `85 `); the
 * final answer is the total. A policy that adds in its head must get every carry right; one that calls the
 * calculator only has to copy. Reward: accuracy (answer = total, ended with EOS) + 0.1·format (an integer, EOS);
 * a bad call (not a ±-expression of integers) gets the error observation and a per-turn reward of −0.1.
 */
import { Rng } from '../rng';
import { splitOf } from '../tasks/types';
import { RESULT_END, TOOL_CLOSE, TOOL_ERROR, TOOL_OPEN, type EnvItem, type EnvReward, type Environment, type ToolResult } from './types';

/** Per-turn reward of a bad tool call. */
export const BAD_CALL_REWARD = -0.1;
const FORMAT_WEIGHT = 0.1;

export interface CalcOptions {
  /** how many numbers to add (≥ 2); default 3 */
  terms: number;
  /** largest number (each is 1 … maxNumber); default 99 */
  maxNumber: number;
  /** fraction of problems held out for eval; default 0.1 */
  evalFraction: number;
}

/** Evaluate `12+7-3` (integers, + and −, ≤ 4 digits each, ≤ 8 terms); undefined when malformed. */
export function evalSum(expr: string): number | undefined {
  if (!/^-?\d{1,4}([+-]\d{1,4}){0,7}$/.test(expr)) return undefined;
  const terms = expr.match(/[+-]?\d+/g)!;
  return terms.reduce((a, t) => a + Number(t), 0);
}

export class CalcEnvironment implements Environment {
  readonly name = 'calc';
  readonly description = 'add k numbers with a calculator tool: ?a+b= returns the sum';
  readonly chars = '0123456789+-=:?er ';
  readonly badCallReward = BAD_CALL_REWARD;
  readonly options: CalcOptions;
  constructor(opts: Partial<CalcOptions> = {}) {
    this.options = { terms: 3, maxNumber: 99, evalFraction: 0.1, ...opts };
    if (!Number.isInteger(this.options.terms) || this.options.terms < 2) throw new Error(`calc environment: terms must be an integer ≥ 2, got ${JSON.stringify(this.options.terms)}`);
    if (!Number.isInteger(this.options.maxNumber) || this.options.maxNumber < 1 || this.options.maxNumber > 9999) throw new Error(`calc environment: maxNumber must be an integer in 1..9999, got ${JSON.stringify(this.options.maxNumber)}`);
  }
  private generate(rng: Rng): EnvItem {
    const xs = Array.from({ length: this.options.terms }, () => 1 + rng.int(this.options.maxNumber));
    return { prompt: `${xs.join('+')}:`, answer: String(xs.reduce((a, b) => a + b, 0)), terms: xs };
  }
  sample(rng: Rng, split: 'train' | 'eval'): EnvItem {
    for (let i = 0; i < 10000; i++) { const it = this.generate(rng); if (splitOf(it.prompt, this.options.evalFraction) === split) return it; }
    throw new Error(`calc environment: could not draw a ${split} problem`);
  }
  evalItems(n: number): EnvItem[] { return fixedEvalItems(this, n, (r) => this.generate(r), this.options.evalFraction); }
  tool(_item: EnvItem, args: string): ToolResult {
    const v = evalSum(args);
    return v === undefined ? { output: TOOL_ERROR, error: `calc: ${JSON.stringify(args)} is not a sum of integers (e.g. 12+7)`, reward: BAD_CALL_REWARD } : { output: String(v) };
  }
  finalReward(item: EnvItem, answer: string, finished: boolean): EnvReward {
    const accuracy = finished && answer === item.answer ? 1 : 0;
    const format = finished && /^-?\d+$/.test(answer) ? 1 : 0;
    return { score: accuracy + FORMAT_WEIGHT * format, parts: { accuracy, format }, correct: accuracy === 1 };
  }
  demo(item: EnvItem): string {
    const xs = item.terms as number[];
    let acc = xs[0], out = '';
    for (const x of xs.slice(1)) { out += `${TOOL_OPEN}${acc}+${x}${TOOL_CLOSE}${acc + x}${RESULT_END}`; acc += x; }
    return out + String(acc);
  }
}

/** The same n eval items for every run (a fixed generator, repeats allowed for small spaces), as BaseTask.evalSet. */
export function fixedEvalItems(_env: Environment, n: number, gen: (rng: Rng) => EnvItem, evalFraction: number): EnvItem[] {
  const rng = new Rng(0xe7a2);
  const seen = new Set<string>(), out: EnvItem[] = [];
  for (let i = 0; i < n * 200 && out.length < n; i++) {
    const it = gen(rng);
    if (seen.has(it.prompt) || splitOf(it.prompt, evalFraction) !== 'eval') continue;
    seen.add(it.prompt); out.push(it);
  }
  for (let i = 0; out.length < n && out.length > 0; i++) out.push(out[i]);
  return out;
}
