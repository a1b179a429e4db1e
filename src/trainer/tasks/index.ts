/** Task registry and user reward modules. */
import { loadUserModule } from '../userModule';
import { ArithmeticTask } from './arithmetic';
import { CountLetterTask, ReverseTask, SortDigitsTask } from './strings';
import { StoriesTask } from './stories';
import { DeltaShiftTask } from './delta';
import { ArithmeticStepsTask } from './steps';
import { ENV_TASKS } from '../envs';
import type { RewardResult, Task, TaskExample, TaskOptions } from './types';

export * from './types';
export { ArithmeticTask } from './arithmetic';
export { CountLetterTask, ReverseTask, SortDigitsTask } from './strings';
export { ArithmeticStepsTask, hasSteps, splitSteps, checkSteps, parseStep, firstErrorStep, stepEndTokens, stepAccuracy, STEP_DELIMITER, type StepTask, type StepSpan, type CheckedStep } from './steps';

export const TASKS: Record<string, (opts: Partial<TaskOptions>) => Task> = {
  arithmetic: (o) => new ArithmeticTask(o),
  reverse: (o) => new ReverseTask(o),
  sort: (o) => new SortDigitsTask(o),
  count: (o) => new CountLetterTask(o),
  // multi-step sums with a scratchpad, verifiable per step (Step-DPO, process reward models): tasks/steps.ts
  'arithmetic-steps': (o) => new ArithmeticStepsTask(o),
  // TinyStories tasks for pretrained story models (model.pretrained, e.g. stories260K): tasks/stories.ts
  'stories-word': (o) => new StoriesTask('stories-word', o),
  'stories-hackable': (o) => new StoriesTask('stories-hackable', o),
  // DELTA: a task the base model never solves (pass@k = 0), dense → binary reward (tasks/delta.ts, rl.rewardSchedule)
  'delta-shift': (o) => new DeltaShiftTask(o),
  // multi-turn tool environments (envs/, rl/multiturn.ts): calc-tool (sums with a calculator), lookup-tool (a table)
  ...ENV_TASKS,
};

/** Does the task need a pretrained model with a subword tokenizer (model.pretrained)? */
export function needsPretrained(task: Task): boolean { return (task as { needsPretrained?: boolean }).needsPretrained === true; }
export const TASK_NAMES = Object.keys(TASKS);

export function createTask(name: string, opts: Partial<TaskOptions> = {}): Task {
  const f = TASKS[name];
  if (!f) throw new Error(`task: unknown task ${JSON.stringify(name)}; allowed: ${TASK_NAMES.join(', ')}`);
  const t = f(opts);
  if (t.options.difficulty < 1 || t.options.difficulty > t.maxDifficulty || !Number.isInteger(t.options.difficulty)) {
    throw new Error(`task ${name}: difficulty ${t.options.difficulty} is out of range; allowed: integers 1..${t.maxDifficulty}`);
  }
  return t;
}

/** A user reward function: reward(prompt, completion, example) → number | { score, parts }. */
export type UserRewardFn = (prompt: string, completion: string, example: { answer: string; difficulty: number }) => number | RewardResult;

/**
 * Load a user reward module (CommonJS or a default export). Only when the caller says the workspace is trusted
 * (the CLI is trusted; the extension passes trust from VS Code's workspace trust).
 */
export function loadUserReward(modulePath: string, opts: { trusted: boolean; baseDir?: string }): UserRewardFn {
  const { abs, mod } = loadUserModule(modulePath, opts, 'task.rewardModule', 'custom reward modules run code');
  const m = mod as { reward?: unknown; default?: unknown };
  const fn = typeof m === 'function' ? m : typeof m.reward === 'function' ? m.reward : typeof m.default === 'function' ? m.default : (m.default as { reward?: unknown } | undefined)?.reward;
  if (typeof fn !== 'function') throw new Error(`task.rewardModule: ${abs} must export a function reward(prompt, completion) (module.exports.reward = ... or export default)`);
  return fn as UserRewardFn;
}

/** Normalise a user reward result; throws naming the module when it is not a finite number / {score, parts}. */
export function normaliseReward(r: unknown, where: string): RewardResult {
  if (typeof r === 'number') {
    if (!Number.isFinite(r)) throw new Error(`${where}: reward returned ${r}; it must be a finite number`);
    return { score: r, parts: { user: r } };
  }
  const o = r as RewardResult;
  if (!o || typeof o !== 'object' || typeof o.score !== 'number' || !Number.isFinite(o.score)) {
    throw new Error(`${where}: reward must return a finite number or { score: number, parts?: Record<string, number> }, got ${JSON.stringify(r)}`);
  }
  const parts: Record<string, number> = {};
  for (const [k, v] of Object.entries(o.parts ?? {})) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: reward part ${JSON.stringify(k)} is ${JSON.stringify(v)}; parts must be finite numbers`);
    parts[k] = v;
  }
  return { score: o.score, parts };
}

/** A task whose reward comes from a user module (correctness for pass@k still uses the task's reference answer). */
export function withUserReward(task: Task, fn: UserRewardFn, where: string): Task {
  return new Proxy(task, {
    get(target, prop, recv) {
      if (prop === 'reward') return (ex: TaskExample, completion: string) => normaliseReward(fn(ex.prompt, completion, { answer: ex.answer, difficulty: ex.difficulty }), where);
      return Reflect.get(target, prop, recv);
    },
  });
}
