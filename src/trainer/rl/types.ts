/**
 * What the online RL loop needs from the rest of the trainer (model, tokenizer, task, run writer). Kept small so the
 * loop can be driven by the CLI's run loop, by tests and by the benchmark alike.
 */
import type { CausalLM } from '../model/types';
import type { Rng } from '../rng';
import type { RunWriter } from '../../runio/writer';
import { isSolved, type Task, type TaskExample } from '../tasks/types';

export interface RlTaskItem { prompt: string; answer?: string }

export interface RlReward {
  /** total reward */
  score: number;
  /** named parts (accuracy, format, ...) */
  parts: Record<string, number>;
  /** counts as solved for pass@k */
  correct: boolean;
  /** process rewards (reward.type "process", preference/prm.ts): one per reasoning step, where the step ends in the
   *  completion (characters, its delimiter included) and its score; rl/step.ts puts each on the step's last token */
  steps?: { end: number; terminator: 'delimiter' | 'eos' | 'none'; score: number }[];
}

export interface RlTask {
  name: string;
  /** one training prompt */
  sampleTrain(rng: Rng): RlTaskItem;
  /** the held-out eval prompts (fixed order), at most n */
  evalItems(n: number): RlTaskItem[];
  /** score a completion; `finished` = ended with EOS */
  reward(item: RlTaskItem, completion: string, finished: boolean): RlReward;
  /** a multi-turn tool environment (envs/): rollouts are episodes (rl/multiturn.ts) instead of single completions */
  env?: import('../envs/types').Environment;
}

export interface RlTokenizer {
  encode(text: string, opts?: { bos?: boolean; eos?: boolean }): number[];
  decode(ids: ArrayLike<number>): string;
  display(ids: ArrayLike<number>): string[];
  /** special ids (absent: the char tokenizer's): EOS ends a completion, PAD pads batches, BOS starts a prompt */
  readonly eos?: number;
  readonly pad?: number;
  readonly bos?: number;
}

export interface RlContext {
  policy: CausalLM;
  /** frozen reference model (π_ref); may be the same weights as the initial policy */
  ref: CausalLM;
  /** separate critic (PPO with critic: 'separate'); must have a value head */
  critic?: CausalLM;
  tokenizer: RlTokenizer;
  task: RlTask;
  seed: number;
  writer?: RunWriter;
  /** progress lines (terminal) */
  log?: (line: string) => void;
  /** checked between steps: true = stop after the current step */
  shouldStop?: () => boolean;
  /** called after each step with its metrics (the CLI emits events, writes metrics) */
  onStep?: (step: number, metrics: Record<string, number | null>) => void;
  onEval?: (step: number, passAtK: Record<string, number>, meanReward: number) => void;
}

/** The trainer's built-in / user task (tasks/types.ts) as an RlTask: correctness for pass@k = isSolved (task.isCorrect and EOS, unless the task says otherwise). */
export function rlTaskFrom(task: Task): RlTask {
  return {
    name: task.name,
    sampleTrain: (rng) => task.sample(rng, 'train'),
    evalItems: (n) => task.evalSet(n),
    reward: (item, completion, finished) => {
      const r = task.reward(item as unknown as TaskExample, completion, finished) as ReturnType<Task['reward']> & { steps?: RlReward['steps'] };
      return { score: r.score, parts: r.parts, correct: isSolved(task, item as unknown as TaskExample, completion, finished), ...(r.steps ? { steps: r.steps } : {}) };
    },
    // tasks backed by an environment (envs/index.ts envTask) carry it
    ...((task as { env?: RlTask['env'] }).env ? { env: (task as { env?: RlTask['env'] }).env } : {}),
  };
}
