/**
 * The algorithms written for the built-in character-level GPT and its character tokenizer (SFT on task
 * demonstrations, the preference methods, reward models, the RL warm start) take their model through here: a run with
 * a pretrained model (model.pretrained) reaching them is an error that says what to use instead. The config refuses
 * such runs before they start (config.ts); this is the typed guard behind it.
 */
import { GPT } from './model/gpt';
import { CharTokenizer } from './tokenizer';
import type { TrainContext } from './context';

export function charModel(ctx: Pick<TrainContext, 'policy' | 'tokenizer' | 'reference'>, what: string): { policy: GPT; tokenizer: CharTokenizer; reference?: GPT } {
  const { policy, tokenizer, reference } = ctx;
  if (!(policy instanceof GPT) || !(tokenizer instanceof CharTokenizer) || (reference !== undefined && !(reference instanceof GPT))) {
    throw new Error(`${what}: needs the built-in character-level model; pretrained models (model.pretrained) train with the online RL algorithms (grpo, dapo, ppo, …)`);
  }
  return { policy, tokenizer, reference: reference as GPT | undefined };
}
