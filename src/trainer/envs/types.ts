/**
 * Multi-turn tool environments (issue 20, docs/environments.md). An environment gives an observation (the prompt);
 * the policy writes until it calls a tool or ends with EOS; the environment executes the call and appends the tool's
 * output (environment tokens, masked out of the policy loss as verl's multi-turn rollout and OpenRLHF's agent
 * rollouts do); the policy writes again, up to a turn limit and a token budget; the episode gets a final reward
 * (+ optional per-turn rewards).
 *
 * Tool-call syntax (every character is in the character tokenizer's alphabet, tokenizer.ts DEFAULT_CHARS):
 *
 *     ?ARGS=        the policy opens a call with '?' and closes it with '='; ARGS is the tool's input
 *     RESULT␠       the environment appends the tool's output and a space (environment tokens, loss mask 0)
 *     err␠          what it appends for a bad call (unparsable, unknown key, no '?', ...): an error observation, never a crash
 *
 * e.g. calculator: prompt `37+48+19:`, trajectory `?37+48=85 ?85+19=104 104<eos>`.
 * The final answer is the text of the last policy turn (one that did not end with a call), EOS excluded.
 */
import type { Rng } from '../rng';
import type { RolloutTurn } from '../../shared/runFormat';

/** Opens a tool call. */
export const TOOL_OPEN = '?';
/** Closes a tool call (a policy turn stops here; the environment answers). */
export const TOOL_CLOSE = '=';
/** Appended after every tool output, so the policy's next turn starts on a fresh word. */
export const RESULT_END = ' ';
/** The error observation for a bad call. */
export const TOOL_ERROR = 'err';

export interface EnvItem {
  /** the first observation (text after BOS) */
  prompt: string;
  /** the reference final answer */
  answer: string;
  [k: string]: unknown;
}

/** An episode's final reward (the shape of rl/types RlReward): total, named parts, solved (for pass@k). */
export interface EnvReward { score: number; parts: Record<string, number>; correct: boolean }

/** One turn of an episode (rl/multiturn.ts): the stored turn (src/shared/runFormat.ts RolloutTurn) without GiGPO's
 *  per-turn numbers, which the step writer adds. */
export type EpisodeTurn = Omit<RolloutTurn, 'stepGroup' | 'stepReturn' | 'stepAdvantage' | 'episodeAdvantage' | 'advantage'>;

/** What a tool call gives back. `error` set: the call was bad and `output` is TOOL_ERROR. */
export interface ToolResult {
  output: string;
  error?: string;
  /** optional per-turn reward of this call (added to the turn's reward; default 0) */
  reward?: number;
}

export interface Environment {
  readonly name: string;
  readonly description: string;
  /** every character of prompts, tool calls, tool outputs and answers (the tokenizer must have them) */
  readonly chars: string;
  /** a training / eval problem (split by a hash of the prompt, as tasks are) */
  sample(rng: Rng, split: 'train' | 'eval'): EnvItem;
  /** a fixed list of n eval problems */
  evalItems(n: number): EnvItem[];
  /** execute one call: `args` is the text between '?' and '='. Must not throw (a throw is turned into an error observation). */
  tool(item: EnvItem, args: string): ToolResult;
  /** the final reward from the final answer (last policy turn's text) and whether the episode ended with EOS */
  finalReward(item: EnvItem, answer: string, finished: boolean): EnvReward;
  /** a demonstration trajectory (calls, their outputs and the answer) for the supervised warm start */
  demo(item: EnvItem): string;
  /** per-turn reward of a malformed call (no '?', a throwing tool); default 0 */
  readonly badCallReward?: number;
}

/** An environment item from a task example of the task adapter (envs/index.ts envTask: `answer` there is the
 *  demonstration, the final answer is `finalAnswer`). */
export function envItemOf(ex: { prompt: string; answer?: string; [k: string]: unknown }): EnvItem {
  return { ...ex, answer: String(ex.finalAnswer ?? ex.answer ?? '') };
}

/** One parsed policy turn. */
export interface ParsedTurn {
  /** the turn ended with a tool call ('=') */
  isCall: boolean;
  /** the call's arguments (text after the last '?'); undefined when the turn is no call or has no '?' */
  args?: string;
  /** why the call is malformed (no '?' before '=') */
  error?: string;
}

/** Parse a policy turn's text (what it wrote since the last observation). */
export function parseToolCall(text: string): ParsedTurn {
  if (!text.endsWith(TOOL_CLOSE)) return { isCall: false };
  const body = text.slice(0, -TOOL_CLOSE.length);
  const open = body.lastIndexOf(TOOL_OPEN);
  if (open < 0) return { isCall: true, error: `a call must start with '${TOOL_OPEN}' (got ${JSON.stringify(text)})` };
  return { isCall: true, args: body.slice(open + TOOL_OPEN.length) };
}

/** Run a tool call safely: a throwing tool or a bad call becomes the error observation. */
export function executeCall(env: Environment, item: EnvItem, parsed: ParsedTurn): ToolResult {
  const bad = env.badCallReward ?? 0;
  if (parsed.error !== undefined || parsed.args === undefined) return { output: TOOL_ERROR, error: parsed.error ?? 'no arguments', reward: bad };
  try {
    const r = env.tool(item, parsed.args);
    if (!r || typeof r.output !== 'string') return { output: TOOL_ERROR, error: `environment ${env.name}: tool returned ${JSON.stringify(r)} (want { output: string })`, reward: bad };
    return r;
  } catch (e) {
    return { output: TOOL_ERROR, error: `environment ${env.name}: tool threw: ${(e as Error).message}`, reward: bad };
  }
}

/**
 * The anchor state of a turn (GiGPO's s_t): the prompt and the tool outputs the policy has seen so far — the
 * environment's state, not the policy's free text. Two trajectories that made calls with the same results are in
 * the same state.
 */
export function anchorState(prompt: string, outputs: readonly string[]): string {
  return [prompt, ...outputs].join('\u0001');
}
