/**
 * Environment registry, the user environment module (Workspace Trust applies, as for task.rewardModule), and the
 * task adapter that lets the engine run an environment as a task (`task.name` "calc-tool" / "lookup-tool"): the
 * warm start trains on the environment's demonstration trajectories, the RL loop runs multi-turn episodes
 * (rl/multiturn.ts) because the task carries its environment (`envOf`).
 */
import { loadUserModule } from '../userModule';
import type { Rng } from '../rng';
import type { Task, TaskExample, TaskOptions, RewardResult } from '../tasks/types';
import { DEFAULT_TASK_OPTIONS } from '../tasks/types';
import { CalcEnvironment } from './calc';
import { LookupEnvironment } from './lookup';
import { RESULT_END, TOOL_CLOSE, type EnvItem, type Environment } from './types';

export * from './types';
export { CalcEnvironment, evalSum } from './calc';
export { LookupEnvironment, LOOKUP_TABLE } from './lookup';

/** Built-in environments by name. */
export const ENVIRONMENTS: Record<string, () => Environment> = {
  calc: () => new CalcEnvironment(),
  lookup: () => new LookupEnvironment(),
};

export function createEnvironment(name: string): Environment {
  const f = ENVIRONMENTS[name];
  if (!f) throw new Error(`environment: unknown environment ${JSON.stringify(name)}; allowed: ${Object.keys(ENVIRONMENTS).join(', ')}`);
  return f();
}

/** Check that an object is an Environment; throws naming the missing member. */
export function checkEnvironment(e: unknown, where: string): Environment {
  const o = e as Record<string, unknown>;
  if (!o || typeof o !== 'object') throw new Error(`${where}: must export an environment object, got ${typeof e}`);
  for (const k of ['name', 'chars'] as const) if (typeof o[k] !== 'string' || !o[k]) throw new Error(`${where}: environment.${k} must be a non-empty string`);
  for (const k of ['sample', 'evalItems', 'tool', 'finalReward', 'demo'] as const) if (typeof o[k] !== 'function') throw new Error(`${where}: environment.${k} must be a function (see docs/environments.md)`);
  return o as unknown as Environment;
}

/**
 * Load a user environment module (CommonJS: `module.exports = { name, chars, sample, evalItems, tool, finalReward, demo }`
 * or a default export). Refused unless the caller says the workspace is trusted: the module runs code.
 */
export function loadUserEnvironment(modulePath: string, opts: { trusted: boolean; baseDir?: string }): Environment {
  const { abs, mod } = loadUserModule(modulePath, opts, 'rl.env.module', 'an environment module runs code');
  const m = mod as { default?: unknown };
  return checkEnvironment(m && typeof m === 'object' && 'default' in m && m.default ? m.default : mod, `rl.env.module ${abs}`);
}

/** The final answer of a trajectory's text: what follows the last tool output (`?..=RESULT␠`). */
export function finalAnswerOf(text: string): string {
  const close = text.lastIndexOf(TOOL_CLOSE);
  if (close < 0) return text;
  const sp = text.indexOf(RESULT_END, close);
  return sp < 0 ? '' : text.slice(sp + RESULT_END.length);
}

/** Tasks backed by an environment carry it here. */
export function envOf(task: unknown): Environment | undefined { return (task as { env?: Environment } | undefined)?.env; }

/**
 * An environment as a Task (for the engine: config checks, the warm start's demonstrations, the tokenizer check).
 * `answer` is the demonstration trajectory; `reward` scores a whole trajectory text by its final answer (what the
 * single-turn eval would see; runs evaluate with multi-turn episodes instead, rl/register.ts).
 */
export function envTask(name: string, env: Environment, opts: Partial<TaskOptions> = {}, bounds: { prompt: number; answer: number }, maxDifficulty = 1): Task & { env: Environment } {
  const toEx = (it: EnvItem): TaskExample => ({ ...it, id: it.prompt, answer: env.demo(it), finalAnswer: it.answer, difficulty: opts.difficulty ?? 1 });
  return {
    name, env, description: `${env.description} (multi-turn environment ${env.name}; docs/environments.md)`, maxDifficulty,
    chars: env.chars, options: { ...DEFAULT_TASK_OPTIONS, ...opts },
    maxPromptLength: () => bounds.prompt, maxAnswerLength: () => bounds.answer,
    sample: (rng: Rng, split) => toEx(env.sample(rng, split)),
    evalSet: (n) => env.evalItems(n).map(toEx),
    corrupt: (ex) => { const d = ex.answer; const fa = String(ex.finalAnswer); return d.slice(0, d.length - fa.length) + String(Number(fa) + 1); },
    reward: (ex, completion, finished = true): RewardResult => { const r = env.finalReward({ ...ex, answer: String(ex.finalAnswer) }, finalAnswerOf(completion), finished); return { score: r.score, parts: r.parts }; },
    isCorrect: (ex, completion) => env.finalReward({ ...ex, answer: String(ex.finalAnswer) }, finalAnswerOf(completion), true).correct,
  };
}

const digits = (n: number) => String(n).length;
/**
 * The built-in environment tasks (task.difficulty d): calc-tool adds d + 1 numbers < 100 (d = 1 … 3), lookup-tool
 * sums d + 1 keys (d = 1, 2). Bounds: the longest prompt / demonstration in characters.
 */
export const ENV_TASKS: Record<string, (opts: Partial<TaskOptions>) => Task> = {
  // d + 1 numbers ≤ 99: prompt "99+99+99:"; demo: d calls "?A+99=S " (A, S ≤ (d + 1)·99) and the answer
  'calc-tool': (o) => {
    const e = new CalcEnvironment({ terms: (o.difficulty ?? 1) + 1 });
    const k = e.options.terms, d = digits(k * e.options.maxNumber), m = digits(e.options.maxNumber);
    return envTask('calc-tool', e, o, { prompt: k * (m + 1), answer: (k - 1) * (4 + 2 * d + m) + d }, 3);
  },
  // "c+f:"; demo "?c=35 ?f=51 86": d + 1 lookups of ≤ 6 characters and the answer (≤ 3 digits)
  'lookup-tool': (o) => { const k = (o.difficulty ?? 1) + 1; return envTask('lookup-tool', new LookupEnvironment(k), o, { prompt: 2 * k, answer: 6 * k + 3 }, 2); },
};
