/**
 * Training configuration: JSON, validated against the JSON Schema (base schema below + the config sections of the
 * registered algorithms; the same schema is shipped as schemas/config.schema.json, written by schemaGen.ts).
 * Errors name the file, line, field, the bad value and what is allowed. Derived values are computed once (`derived`).
 * The algorithms (and their sections) are those registered when the config is resolved: the entry point imports
 * ./plugins (src/cli/main.ts, bench.ts, schemaGen.ts, tests); this module imports no plug-in.
 */
import Ajv, { type ErrorObject } from 'ajv';
import * as fs from 'fs';
import * as path from 'path';
import { listAlgorithms, listConfigSections, sectionOf, type AlgorithmModule } from './registry';
import { TASK_NAMES, createTask, needsPretrained } from './tasks';
import { CharTokenizer, DEFAULT_CHARS } from './tokenizer';
import { BACKEND_CHOICES } from './backend';
import { deepMerge } from '../shared/deepMerge';

import type { TrainConfig } from './context';

export type { TrainConfig, Derived } from './context';

export class ConfigError extends Error {
  constructor(readonly problems: { file?: string; line?: number; field: string; message: string }[]) {
    super(problems.map((p) => `${p.file ?? 'config'}${p.line ? `:${p.line}` : ''}: ${p.field}: ${p.message}`).join('\n'));
  }
}

const n = (x: Record<string, unknown>) => ({ type: 'number', ...x });
const int = (x: Record<string, unknown>) => ({ type: 'integer', ...x });

/** The base schema (without algorithm sections). */
export function baseSchema(): Record<string, any> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://rl-lens.dev/schemas/config.schema.json',
    title: 'RL Lens training config',
    description: 'rl-lens train --config FILE. Every field has a default except where noted; see docs/config.md.',
    type: 'object',
    additionalProperties: false,
    required: ['algorithm'],
    properties: {
      $schema: { type: 'string' },
      name: { type: 'string', description: 'run name (folder name prefix)' },
      algorithm: { type: 'string', enum: ['sft'], description: 'training algorithm' },
      seed: int({ minimum: 0, maximum: 4294967295, default: 1 }),
      backend: { type: 'string', enum: BACKEND_CHOICES, default: 'auto' },
      threads: int({ minimum: 1, maximum: 256 }),
      task: {
        type: 'object', additionalProperties: false,
        properties: {
          name: { type: 'string', enum: TASK_NAMES, default: 'arithmetic' },
          difficulty: int({ minimum: 1, maximum: 4, default: 1 }),
          formatWeight: n({ minimum: 0, maximum: 10, default: 0.1 }),
          partialCredit: { type: 'boolean', default: false },
          partialWeight: n({ minimum: 0, maximum: 10, default: 0.5 }),
          evalFraction: n({ exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.1 }),
          rewardModule: { type: 'string', minLength: 1, description: 'path of a JS module exporting reward(prompt, completion); only loaded in a trusted workspace' },
        },
      },
      model: {
        type: 'object', additionalProperties: false,
        properties: {
          dModel: int({ minimum: 4, maximum: 4096, default: 64 }),
          nHeads: int({ minimum: 1, maximum: 64, default: 4 }),
          nLayers: int({ minimum: 1, maximum: 48, default: 2 }),
          contextLength: int({ minimum: 8, maximum: 2048, default: 32 }),
          mlpRatio: int({ minimum: 1, maximum: 8, default: 4 }),
          valueHead: { type: 'boolean', default: false },
          pretrained: { type: 'string', minLength: 1, description: 'start from a pretrained causal LM instead of a fresh character-level GPT: a llama2.c .bin (or a folder with one and its tokenizer), a Hugging Face folder (config.json + safetensors + tokenizer.json), or a hub id hf:owner/repo[/subfolder][@revision] (docs/models.md). dModel / nHeads / nLayers / mlpRatio are then the checkpoint\'s own; contextLength caps prompt + completion' },
          tokenizer: { type: 'string', minLength: 1, description: 'the tokenizer of model.pretrained when it is not beside the weights (a llama2.c tok*.bin, or a folder / tokenizer.json)' },
          lora: {
            type: 'object', additionalProperties: false,
            description: 'LoRA adapters on the frozen pretrained model (llama family), as PEFT: the reference policy is the base with the adapters off (no second copy); checkpoints hold the adapters in PEFT files. src/trainer/model/lora.ts LoraConfig, docs/models.md#lora-peft',
            properties: {
              // no schema defaults here: model.lora must stay absent unless given (fullLoraConfig fills r 8, alpha 8, dropout 0)
              r: int({ minimum: 1, maximum: 4096, description: 'rank r of ΔW = B·A (PEFT r); default 8' }),
              alpha: n({ exclusiveMinimum: 0, description: 'the update is scaled by alpha / r (PEFT lora_alpha); default 8' }),
              dropout: n({ minimum: 0, exclusiveMaximum: 1, description: 'dropout on the adapter input in training passes (PEFT lora_dropout); default 0' }),
              targetModules: { oneOf: [{ type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }, { type: 'string', minLength: 1 }], description: 'modules that get adapters: names (q_proj … down_proj), a regex, or "all-linear"; default all seven linear layers of a block (PEFT target_modules)' },
              useRslora: { type: 'boolean', description: 'scale by alpha / √r (PEFT use_rslora); default false' },
            },
          },
        },
      },
      init: { type: 'object', additionalProperties: false, properties: { checkpoint: { type: 'string', minLength: 1 } } },
      train: {
        type: 'object', additionalProperties: false,
        properties: {
          steps: int({ minimum: 1, maximum: 10000000, default: 300 }),
          batchSize: int({ minimum: 1, maximum: 65536, default: 64 }),
          lr: n({ exclusiveMinimum: 0, maximum: 1, default: 0.003 }),
          lrSchedule: { type: 'string', enum: ['constant', 'cosine'], default: 'cosine' },
          warmupSteps: int({ minimum: 0, default: 10 }),
          minLrRatio: n({ minimum: 0, maximum: 1, default: 0.1 }),
          weightDecay: n({ minimum: 0, maximum: 1, default: 0.0 }),
          gradClip: n({ minimum: 0, default: 1.0, description: 'max global grad norm; 0 = off' }),
          beta1: n({ minimum: 0, exclusiveMaximum: 1, default: 0.9 }),
          beta2: n({ minimum: 0, exclusiveMaximum: 1, default: 0.99 }),
          eps: n({ exclusiveMinimum: 0, default: 1e-8 }),
        },
      },
      sampling: {
        type: 'object', additionalProperties: false,
        properties: {
          temperature: n({ minimum: 0, maximum: 10, default: 1 }),
          topP: n({ exclusiveMinimum: 0, maximum: 1, default: 1 }),
          topK: int({ minimum: 0, default: 0 }),
          maxNewTokens: int({ minimum: 1, maximum: 2048, default: 8 }),
        },
      },
      eval: {
        type: 'object', additionalProperties: false,
        properties: {
          every: int({ minimum: 0, default: 100, description: 'eval every N steps; 0 = only at the end' }),
          numPrompts: int({ minimum: 1, maximum: 100000, default: 64 }),
          samplesPerPrompt: int({ minimum: 1, maximum: 1024, default: 8 }),
          k: { type: 'array', items: int({ minimum: 1 }), minItems: 1, default: [1, 2, 4, 8] },
          temperature: n({ minimum: 0, maximum: 10, default: 1 }),
          atStart: { type: 'boolean', default: true },
        },
      },
      checkpoint: { type: 'object', additionalProperties: false, properties: { every: int({ minimum: 0, default: 0, description: '0 = only final / stop checkpoints' }) } },
      rollouts: {
        type: 'object', additionalProperties: false,
        properties: {
          every: int({ minimum: 0, default: 10, description: 'per-token traces (the .f32 arrays) on step 1 and every N steps, for every algorithm (online RL writes a summary without arrays on the other steps, rl.summariesEveryStep); 0 = never (src/shared/rolloutStep.ts RolloutRetention)' }),
          maxSamples: int({ minimum: 1, default: 64, description: 'samples kept per written step: whole groups in order, the first group always (never split); the header says subsampled when cut' }),
        },
      },
      log: { type: 'object', additionalProperties: false, properties: { every: int({ minimum: 1, default: 1 }) } },
      sft: {
        type: 'object', additionalProperties: false,
        properties: {
          demoNoise: n({ minimum: 0, maximum: 1, default: 0.1, description: 'probability that a demonstration carries a wrong (well-formatted) answer' }),
          demoCoverage: n({ exclusiveMinimum: 0, maximum: 1, default: 1, description: 'fraction of training problems that have demonstrations (by hash)' }),
        },
      },
    },
  };
}

/** Full schema: base + the plug-ins' top-level sections (registerConfigSection) + one property per registered algorithm section. */
export function configSchema(mods: AlgorithmModule[] = listAlgorithms()): Record<string, any> {
  const s = baseSchema();
  for (const sec of listConfigSections()) if (!s.properties[sec.name]) s.properties[sec.name] = sec.schema;
  const names = new Set<string>(['sft']);
  for (const m of mods) {
    names.add(m.name);
    const sec = sectionOf(m);
    if (m.configSchema && !s.properties[sec]) s.properties[sec] = m.configSchema;
    else if (!s.properties[sec]) s.properties[sec] = { type: 'object' };
  }
  s.properties.algorithm.enum = [...names].sort();
  return s;
}

/** Fill defaults from the schema (objects recursively), without overwriting user values. */
export function applyDefaults(schema: any, value: any, skip: Set<string> = new Set()): any {
  if (!schema || typeof schema !== 'object') return value;
  if (schema.type === 'object' && schema.properties) {
    const out = value && typeof value === 'object' && !Array.isArray(value) ? { ...value } : value === undefined ? {} : value;
    if (typeof out !== 'object' || out === null || Array.isArray(out)) return out;
    for (const [k, sub] of Object.entries<any>(schema.properties)) {
      if (skip.has(k) && out[k] === undefined) continue;
      // an absent optional object with required fields (e.g. reward) stays absent
      if (out[k] === undefined && sub && Array.isArray(sub.required) && sub.required.length) continue;
      if (out[k] === undefined && sub && sub.default !== undefined) out[k] = structuredClone(sub.default);
      else if (sub && sub.type === 'object' && sub.properties && (out[k] !== undefined || k !== 'init')) {
        if (out[k] !== undefined || Object.values<any>(sub.properties).some((p) => p && p.default !== undefined)) out[k] = applyDefaults(sub, out[k]);
      }
    }
    return out;
  }
  return value;
}

/** Line of a JSON pointer's key in the source text (best effort, exact for ordinary pretty-printed JSON). */
export function lineOfPointer(text: string, pointer: string): number | undefined {
  const keys = pointer.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
  let pos = 0;
  for (const k of keys) {
    if (/^\d+$/.test(k)) continue;
    const re = new RegExp(`"${k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\s*:`, 'g');
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) return undefined;
    pos = m.index;
  }
  if (keys.length === 0) return 1;
  return text.slice(0, pos).split('\n').length;
}

function describeAjvError(e: ErrorObject, root: unknown): { field: string; message: string; pointer: string } {
  let pointer = e.instancePath;
  let field = 'config' + pointer.split('/').slice(1).map((k) => (/^\d+$/.test(k) ? `[${k}]` : `.${k}`)).join('');
  const value = pointer.split('/').slice(1).reduce<any>((o, k) => (o == null ? o : o[k]), root);
  const got = ` (got ${JSON.stringify(value)})`;
  const p = e.params as Record<string, any>;
  let message: string;
  switch (e.keyword) {
    case 'enum': message = `${JSON.stringify(value)} is not allowed; allowed: ${p.allowedValues.map((v: unknown) => JSON.stringify(v)).join(', ')}`; break;
    case 'additionalProperties': {
      pointer += `/${p.additionalProperty}`;
      field += `.${p.additionalProperty}`;
      const props = Object.keys((e.parentSchema as any)?.properties ?? {});
      message = `unknown field; allowed fields here: ${props.join(', ')}`;
      // fields that moved: say where to
      if (field === 'config.rl.traces') message = 'was replaced by the top-level "rollouts" section, the one trace-retention setting for every algorithm: "rollouts": { "every": N, "maxSamples": M } (per-token traces on step 1 and every N-th step)';
      break;
    }
    case 'type': message = `must be ${p.type}${got}`; break;
    case 'minimum': case 'maximum': case 'exclusiveMinimum': case 'exclusiveMaximum':
      message = `must be ${p.comparison} ${p.limit}${got}`; break;
    case 'required': field += `.${p.missingProperty}`; message = 'is required'; break;
    default: message = `${e.message ?? e.keyword}${got}`;
  }
  return { field, message, pointer };
}

function ajv(): Ajv {
  return new Ajv({ allErrors: true, strict: false, verbose: true });
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Validate a raw config object (parsed JSON), fill defaults, compute derived values.
 * `text` (the file content) lets errors carry line numbers.
 */
export function resolveConfig(raw: unknown, opts: { file?: string; text?: string } = {}): TrainConfig {
  const file = opts.file;
  const loc = (pointer: string) => (opts.text ? lineOfPointer(opts.text, pointer) : undefined);
  if (!isPlainObject(raw)) throw new ConfigError([{ file, line: 1, field: 'config', message: 'must be a JSON object' }]);
  if ('derived' in raw) throw new ConfigError([{ file, line: loc('/derived'), field: 'config.derived', message: 'is computed by the trainer; remove it from the file' }]);
  const schema = configSchema();
  const mod = listAlgorithms().find((m) => m.name === raw.algorithm);
  // sections of algorithms other than the chosen one get no defaults (they are only validated when present)
  const base = new Set(Object.keys(baseSchema().properties));
  const skip = new Set(Object.keys(schema.properties).filter((k) => !base.has(k) && (!mod || k !== sectionOf(mod))));
  const cfg = applyDefaults(schema, raw, skip) as Record<string, unknown>;
  if (mod) {
    const sec = sectionOf(mod);
    const d = typeof mod.defaults === 'function' ? mod.defaults(cfg) : mod.defaults;
    if (d) cfg[sec] = { ...structuredClone(d), ...(isPlainObject(cfg[sec]) ? (cfg[sec] as object) : {}) };
    if (mod.needsValueHead?.(cfg)) (cfg.model as Record<string, unknown>).valueHead = true;
  }
  const validate = ajv().compile(schema);
  if (!validate(cfg)) {
    const seen = new Set<string>();
    const problems = (validate.errors ?? []).map((e) => describeAjvError(e, cfg)).filter((p) => { const k = p.field + p.message; if (seen.has(k)) return false; seen.add(k); return true; })
      .map((p) => ({ file, line: loc(p.pointer), field: p.field, message: p.message }));
    throw new ConfigError(problems);
  }
  const c = cfg as unknown as TrainConfig;
  const problems: { file?: string; line?: number; field: string; message: string }[] = [];
  if (!c.model.pretrained && c.model.dModel % c.model.nHeads !== 0) problems.push({ file, line: loc('/model/nHeads'), field: 'config.model.nHeads', message: `must divide model.dModel (${c.model.dModel}); e.g. ${[1, 2, 4, 8].filter((h) => c.model.dModel % h === 0).join(', ')}` });
  const task = createTask(c.task.name, c.task);
  if (c.task.difficulty > task.maxDifficulty) problems.push({ file, line: loc('/task/difficulty'), field: 'config.task.difficulty', message: `task ${c.task.name} has difficulties 1..${task.maxDifficulty} (got ${c.task.difficulty})` });
  const tok = new CharTokenizer(DEFAULT_CHARS);
  const pretrained = c.model.pretrained;
  // a pretrained model's sizes are its own: the built-in model's size fields would only mislead in the run's config
  if (pretrained) for (const k of ['dModel', 'nHeads', 'nLayers', 'mlpRatio'] as const) delete (c.model as Partial<TrainConfig['model']>)[k];
  if (pretrained && file && !/^hf:/.test(pretrained) && !path.isAbsolute(pretrained)) c.model.pretrained = path.resolve(path.dirname(file), pretrained);
  if (c.model.tokenizer && file && !path.isAbsolute(c.model.tokenizer)) c.model.tokenizer = path.resolve(path.dirname(file), c.model.tokenizer);
  if (needsPretrained(task) && !pretrained && !c.init?.checkpoint) problems.push({ file, line: loc('/task/name'), field: 'config.task.name', message: `task ${c.task.name} is written for a pretrained story model: set model.pretrained (or init.checkpoint to a checkpoint of such a run), e.g. "hf:karpathy/tinyllamas/stories260K" (the stories-grpo preset does)` });
  if (pretrained && !(mod?.kind === 'rl' || (mod?.kind === 'preference' && mod.name !== 'reward_model'))) problems.push({ file, line: loc('/model/pretrained'), field: 'config.model.pretrained', message: `algorithm ${c.algorithm}: pretrained models train with the online RL algorithms (grpo, dapo, ppo, …) and the offline preference methods (dpo, ipo, kto, orpo, simpo, odpo, with your data); SFT on task demonstrations, reward models and the pipeline use the built-in character model (docs/models.md)` });
  if (c.model.lora && !pretrained) problems.push({ file, line: loc('/model/lora'), field: 'config.model.lora', message: 'LoRA adapts a pretrained model: set model.pretrained too' });
  if (pretrained && c.init?.checkpoint) problems.push({ file, line: loc('/init/checkpoint'), field: 'config.init.checkpoint', message: 'give model.pretrained or init.checkpoint, not both (a checkpoint of a pretrained run already holds the model and its tokenizer)' });
  if (!pretrained) for (const ch of task.chars) if (!tok.has(ch)) problems.push({ file, field: 'config.task.name', message: `the tokenizer lacks character ${JSON.stringify(ch)} used by task ${c.task.name}` });
  // a pretrained model's prompt lengths are known once its tokenizer is loaded (engine.ts checks them there)
  const subword = Boolean(pretrained) || needsPretrained(task);
  const maxPromptTokens = subword ? 0 : 1 + task.maxPromptLength();
  const maxAnswerTokens = subword ? c.sampling.maxNewTokens : task.maxAnswerLength() + 1;
  const sequenceLength = subword ? c.model.contextLength : maxPromptTokens + maxAnswerTokens;
  if (!subword && sequenceLength > c.model.contextLength) problems.push({ file, line: loc('/model/contextLength'), field: 'config.model.contextLength', message: `must be ≥ ${sequenceLength} for task ${c.task.name} at difficulty ${c.task.difficulty} (BOS + prompt ${task.maxPromptLength()} + answer ${task.maxAnswerLength()} + EOS); got ${c.model.contextLength}` });
  for (const k of c.eval.k) if (k > c.eval.samplesPerPrompt) problems.push({ file, line: loc('/eval/k'), field: 'config.eval.k', message: `pass@${k} needs eval.samplesPerPrompt ≥ ${k} (got ${c.eval.samplesPerPrompt})` });
  if (c.task.rewardModule && file) c.task.rewardModule = path.resolve(path.dirname(file), c.task.rewardModule);
  if (c.init?.checkpoint && file) c.init.checkpoint = path.resolve(path.dirname(file), c.init.checkpoint);
  // a user environment module (rl.env.module, envs/index.ts) is relative to the config file, as task.rewardModule
  const rlEnv = (c.rl as { env?: { module?: unknown } } | undefined)?.env;
  if (rlEnv && typeof rlEnv.module === 'string' && file) rlEnv.module = path.resolve(path.dirname(file), rlEnv.module);
  for (const sec of listConfigSections()) if (c[sec.name] !== undefined && file) sec.resolvePaths?.(c[sec.name], path.dirname(file));
  // preference data files (any `data: {path, evalPath}` section, e.g. dpo.data, pipeline stages) are relative to the
  // config file too, not to the trainer's working directory (the extension runs it in the run folder)
  if (file) resolveDataPaths(c, path.dirname(file));
  if (!mod && c.algorithm !== 'sft') problems.push({ file, line: loc('/algorithm'), field: 'config.algorithm', message: `no module registered for ${JSON.stringify(c.algorithm)}` });
  if (problems.length) throw new ConfigError(problems);
  try { mod?.validate?.(cfg); } catch (e) { throw new ConfigError([{ file, field: `config.${mod ? sectionOf(mod) : ''}`, message: (e as Error).message }]); }
  c.derived = {
    vocabSize: tok.size,
    vocab: tok.vocab,
    maxPromptTokens,
    maxAnswerTokens,
    sequenceLength,
    maxNewTokens: Math.min(c.sampling.maxNewTokens, c.model.contextLength - Math.max(1, maxPromptTokens)),
  };
  return c;
}

/** Read, parse and resolve a config file. */
export function loadConfigFile(file: string, overrides: Record<string, unknown> = {}): TrainConfig {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) { throw new ConfigError([{ file, field: 'config', message: `cannot read: ${(e as Error).message}` }]); }
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (e) {
    const m = /position (\d+)/.exec((e as Error).message);
    const line = m ? text.slice(0, Number(m[1])).split('\n').length : undefined;
    throw new ConfigError([{ file, line, field: 'config', message: `not valid JSON: ${(e as Error).message}` }]);
  }
  return resolveConfig(deepMerge(raw, overrides), { file, text });
}

/** re-exported for the presets' users (rl/register, preference, cli, tests): the one deep merge lives in shared/ */
export { deepMerge };

/** the presets table lives in presets.ts (plug-ins add theirs there); re-exported for the CLI and tests */
export { PRESETS, defaultPreset, registerPreset } from './presets';

/** Resolve every `data.path` / `data.evalPath` string in the config relative to `dir` (the config file's folder). */
function resolveDataPaths(node: unknown, dir: string): void {
  if (!node || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
    if (k === 'data' && v && typeof v === 'object' && !Array.isArray(v)) {
      const d = v as Record<string, unknown>;
      for (const f of ['path', 'evalPath']) if (typeof d[f] === 'string' && d[f] && !path.isAbsolute(d[f] as string)) d[f] = path.resolve(dir, d[f] as string);
    }
    if (k !== 'derived') resolveDataPaths(v, dir);
  }
}
