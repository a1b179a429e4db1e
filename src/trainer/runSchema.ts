/**
 * JSON Schema (draft-07) of the JSON parts of the run directory, format version 1 (src/shared/runFormat.ts,
 * docs/run-format.md). Shipped as schemas/run-format.schema.json (written by schemaGen.ts; a unit test keeps it current).
 * Unknown extra fields are allowed where importers keep them (manifest, header, sample, group).
 */
const num = { type: 'number' };
const numOrNull = { type: ['number', 'null'] };
const str = { type: 'string' };
const int0 = { type: 'integer', minimum: 0 };
const iso = { type: 'string', minLength: 1 };
const status = { type: 'string', enum: ['running', 'completed', 'failed', 'stopped'] };

const backendInfo = {
  type: 'object', required: ['name'],
  properties: {
    name: str, requested: str, gpu: str, threads: { type: 'integer', minimum: 0 }, simd: { type: 'boolean' },
    skipped: { type: 'array', items: { type: 'object', required: ['name', 'reason'], properties: { name: str, reason: str } } },
  },
};

const inputProblem = {
  type: 'object', required: ['file', 'message'],
  properties: { file: str, line: { type: 'integer', minimum: 1 }, field: str, message: str, severity: { type: 'string', enum: ['error', 'warning'] } },
};

const passAtK = { type: 'object', propertyNames: { pattern: '^[0-9]+$' }, additionalProperties: { type: 'number', minimum: 0, maximum: 1 } };

export const RUN_FORMAT_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://rl-lens.dev/schemas/run-format.schema.json',
  title: 'RL Lens run directory, format version 1',
  description: 'See docs/run-format.md. Each definition validates one JSON document or one JSONL line.',
  definitions: {
    manifest: {
      type: 'object',
      required: ['format', 'formatVersion', 'id', 'status', 'algorithm', 'config', 'startedAt'],
      properties: {
        format: { const: 'rl-lens-run' },
        formatVersion: { type: 'integer', const: 1 },
        id: { type: 'string', minLength: 1 },
        name: str,
        status,
        algorithm: { type: 'string', minLength: 1 },
        task: str,
        config: { type: 'object' },
        backend: backendInfo,
        versions: { type: 'object', additionalProperties: str },
        seed: num,
        startedAt: iso, updatedAt: iso, endedAt: iso,
        totalSteps: int0,
        step: int0,
        error: { type: 'object', required: ['message'], properties: { message: str, stack: str } },
        model: { type: 'object', required: ['parameters'], properties: { parameters: int0, flopsPerToken: num } },
        stages: { type: 'array', items: { type: 'object', required: ['name', 'path', 'algorithm'], properties: { name: str, path: str, algorithm: str, status } } },
        parent: str,
        source: { type: 'object', required: ['format'], properties: { format: str, path: str, detected: str, notes: { type: 'array', items: str }, problems: { type: 'array', items: inputProblem }, problemCount: int0 } },
      },
    },
    metricsRecord: {
      type: 'object', required: ['step', 'values'], additionalProperties: false,
      properties: {
        step: int0, time: num, split: { type: 'string', enum: ['train', 'eval'] },
        values: { type: 'object', additionalProperties: numOrNull },
      },
    },
    evalRecord: {
      type: 'object', required: ['step', 'passAtK', 'samplesPerPrompt', 'numPrompts'],
      properties: {
        step: int0, time: num, passAtK, samplesPerPrompt: { type: 'integer', minimum: 1 }, numPrompts: int0, meanReward: num,
        baseline: { type: 'object', required: ['name', 'passAtK'], properties: { name: { type: 'string', pattern: '^[A-Za-z0-9_]+$' }, label: str, passAtK, meanReward: num } },
        items: {
          type: 'array',
          items: { type: 'object', required: ['prompt', 'completions', 'rewards', 'correct'], properties: { prompt: str, completions: { type: 'array', items: str }, rewards: { type: 'array', items: numOrNull }, correct: int0 } },
        },
      },
    },
    event: {
      type: 'object', required: ['type', 'time'],
      properties: { type: { type: 'string', enum: ['start', 'step', 'rollout', 'eval', 'checkpoint', 'log', 'warning', 'error', 'end'] }, time: iso },
      allOf: [
        { if: { properties: { type: { const: 'start' } } }, then: { required: ['runDir', 'runId', 'algorithm', 'backend'], properties: { runDir: str, runId: str, algorithm: str, task: str, backend: backendInfo, totalSteps: int0, config: { type: 'object' }, model: { type: 'object' } } } },
        { if: { properties: { type: { const: 'step' } } }, then: { required: ['step', 'metrics'], properties: { step: int0, totalSteps: int0, metrics: { type: 'object', additionalProperties: numOrNull }, etaSeconds: numOrNull } } },
        { if: { properties: { type: { const: 'rollout' } } }, then: { required: ['step', 'file', 'numSamples', 'numGroups'], properties: { step: int0, file: str, numSamples: int0, numGroups: int0 } } },
        { if: { properties: { type: { const: 'eval' } } }, then: { required: ['step', 'passAtK'], properties: { step: int0, passAtK, meanReward: numOrNull, baseline: { type: 'object', required: ['name', 'passAtK'], properties: { name: str, label: str, passAtK, meanReward: numOrNull }, description: 'the same eval of a baseline (Training-Free GRPO: the model without its experience library), as in eval.jsonl' } } } },
        { if: { properties: { type: { const: 'checkpoint' } } }, then: { required: ['step', 'path'], properties: { step: int0, path: str, tag: str } } },
        { if: { properties: { type: { const: 'log' } } }, then: { required: ['level', 'message'], properties: { level: { type: 'string', enum: ['info', 'debug'] }, message: str, phase: { type: 'object', required: ['name', 'done', 'total'], properties: { name: str, done: int0, total: int0 } } } } },
        { if: { properties: { type: { const: 'warning' } } }, then: { required: ['message'], properties: { message: str, step: int0, code: str } } },
        { if: { properties: { type: { const: 'error' } } }, then: { required: ['message'], properties: { message: str, stack: str, step: int0 } } },
        { if: { properties: { type: { const: 'end' } } }, then: { required: ['status'], properties: { status, step: int0, reason: str } } },
      ],
    },
    rolloutGroup: {
      type: 'object', required: ['id', 'prompt', 'samples', 'rewards', 'mean', 'std'],
      properties: {
        id: str, prompt: str, samples: { type: 'array', items: int0 }, rewards: { type: 'array', items: numOrNull },
        mean: numOrNull, std: numOrNull, baseline: numOrNull, baselines: { type: 'array', items: numOrNull }, scores: { type: 'array', items: numOrNull },
        filtered: { type: 'boolean' }, filterReason: str, answer: str,
        hint: str, hintRatio: numOrNull, hintStage: int0,
      },
    },
    rolloutHeader: {
      type: 'object', required: ['kind', 'step', 'numSamples', 'arrays', 'groups'],
      properties: {
        kind: { const: 'header' }, step: int0, algorithm: str, numSamples: int0,
        arrays: { type: 'array', items: { type: 'string', minLength: 1 }, uniqueItems: true },
        dataFile: { type: 'string', pattern: '^[^/\\\\]+\\.f32$' },
        groups: { type: 'array', items: { $ref: '#/definitions/rolloutGroup' } },
        params: { type: 'object', additionalProperties: { type: ['number', 'string', 'boolean', 'null'] } },
        subsampled: { type: 'boolean' }, totalGroups: int0, totalSamples: int0,
        experiences: { description: 'Training-Free GRPO (algorithm tfgrpo): the experience library this step\'s rollouts saw in their prompts', type: 'array', items: { $ref: '#/definitions/experience' } },
        experienceOps: { description: 'Training-Free GRPO: the library operations this step\'s groups led to (as experiences.jsonl `ops`)', type: 'array', items: { $ref: '#/definitions/experienceOp' } },
      },
    },
    experience: { type: 'object', required: ['id', 'text'], properties: { id: { type: 'string', minLength: 1 }, text: str } },
    experienceOp: {
      description: 'one library operation (docs/run-format.md "experiences.jsonl"): op, the experience id it made / edited / removed / kept, its text (add, modify; keep may name it), the text before (modify, delete), why, the group it came from, applied (false: rejected, `reason` says why)',
      type: 'object', required: ['op', 'rationale', 'applied'],
      properties: { op: { type: 'string', enum: ['add', 'delete', 'modify', 'keep'] }, id: str, text: str, previous: str, rationale: str, group: str, prompt: str, applied: { type: 'boolean' }, reason: str },
    },
    experienceStep: {
      description: 'one line of experiences.jsonl (Training-Free GRPO, docs/run-format.md): the library a step\'s rollouts saw, the operations, the library after',
      type: 'object', required: ['step', 'epoch', 'seen', 'ops', 'library'],
      properties: {
        step: { type: 'integer', minimum: 1 }, epoch: { type: 'integer', minimum: 1 }, batch: { type: 'integer', minimum: 1 },
        seen: { type: 'array', items: { $ref: '#/definitions/experience' } },
        selectedGroups: { type: 'array', items: str }, groups: int0,
        ops: { type: 'array', items: { $ref: '#/definitions/experienceOp' } },
        library: { type: 'array', items: { $ref: '#/definitions/experience' } },
        libraryTokens: int0, extractor: str,
      },
    },
    rolloutIndexEntry: {
      description: 'one line of rollouts/index.jsonl: a rollout step summarised as it is written (docs/run-format.md, "Step index")',
      type: 'object', required: ['step', 'traced', 'arrays', 'samples', 'groups', 'jsonlBytes', 'dataBytes'],
      properties: {
        step: int0, traced: { type: 'boolean' }, arrays: { type: 'array', items: { type: 'string', minLength: 1 } },
        samples: int0, groups: int0, totalGroups: int0, totalSamples: int0, subsampled: { type: 'boolean' },
        rewardMean: numOrNull, jsonlBytes: int0, dataBytes: int0,
      },
    },
    stepOverview: {
      description: 'rollouts/step_X.overview.json: the heatmap\'s first answer of a step without parsing step_X.jsonl (docs/run-format.md, "Step overview sidecar"); used only while step_X.jsonl has exactly jsonl.bytes and jsonl.mtimeMs, and numbers / withData / domains only while the .f32 has exactly data.bytes and data.mtimeMs',
      type: 'object', required: ['kind', 'version', 'step', 'jsonl', 'header', 'samples', 'lines', 'cut', 'textCut', 'problems'],
      properties: {
        kind: { const: 'stepOverview' }, version: { const: 1 }, step: int0,
        jsonl: { type: 'object', required: ['bytes', 'mtimeMs'], properties: { bytes: int0, mtimeMs: num } },
        header: { $ref: '#/definitions/rolloutHeader' },
        samples: { description: 'the sample lines parsed, tokens emptied, prompt and completion cut to textCut characters', type: 'array', items: { $ref: '#/definitions/rolloutSample' } },
        lines: { description: 'per sample: [byte offset, byte length] of its line in step_X.jsonl (without the newline)', type: 'array', items: { type: 'array', items: int0, minItems: 2, maxItems: 2 } },
        cut: { description: 'samples whose prompt or completion was cut', type: 'array', items: int0 },
        textCut: { type: 'integer', minimum: 1 },
        problems: { type: 'array', items: str },
        data: { type: 'object', required: ['bytes', 'mtimeMs'], properties: { bytes: int0, mtimeMs: num } },
        numbers: { description: 'per sample: [mean advantage over the mask (when a record lacks advantage), mean KL over the mask, clip low, clip high, clip dual]', type: 'array', items: { type: 'array', items: numOrNull, minItems: 5, maxItems: 5 } },
        withData: { type: 'array', items: { type: 'string', minLength: 1 } },
        domains: {
          description: 'per metric the heatmap offers (not categorical): its colour-domain statistics over every valid token of the step (webview/data/scales.ts DomainStats); rawMin / rawMax null when count is 0, a -0 written as "-0"',
          type: 'object',
          additionalProperties: {
            type: 'object', required: ['count', 'rawMin', 'rawMax', 'q'],
            properties: {
              count: int0, rawMin: { type: ['number', 'null', 'string'], pattern: '^-0$' }, rawMax: { type: ['number', 'null', 'string'], pattern: '^-0$' },
              q: { description: 'percentile (String(p)) → value', type: 'object', additionalProperties: { type: ['number', 'null', 'string'], pattern: '^-0$' } },
            },
          },
        },
      },
    },
    stepDoctorSummary: {
      description: 'rollouts/step_X.doctor.json: the run doctor\'s summary of a step (src/doctor/types.ts RolloutSummary), written by the writer so the doctor never parses the step (docs/run-format.md, "Doctor step summary sidecar"); used only while step_X.jsonl and the .f32 named in data.file have exactly the stamped bytes and mtimeMs, for the same ratioBound',
      type: 'object', required: ['kind', 'version', 'step', 'jsonl', 'ratioBound', 'summary'],
      properties: {
        kind: { const: 'stepDoctorSummary' }, version: { const: 1 }, step: int0,
        jsonl: { type: 'object', required: ['bytes', 'mtimeMs'], properties: { bytes: int0, mtimeMs: num } },
        data: { type: 'object', required: ['file', 'bytes', 'mtimeMs'], properties: { file: { type: 'string', pattern: '^[^/\\\\]+$' }, bytes: int0, mtimeMs: num } },
        ratioBound: { type: 'number', exclusiveMinimum: 0 },
        summary: {
          type: 'object', required: ['step', 'groups', 'samples'],
          properties: {
            step: int0,
            groups: { type: 'array', items: { type: 'object', required: ['id', 'samples', 'rewards', 'distinct'], properties: { id: str, samples: { type: 'array', items: int0 }, rewards: { type: 'array', items: numOrNull }, filtered: { type: 'boolean' }, filterReason: str, distinct: int0 } } },
            samples: { type: 'array', items: { type: 'object', required: ['index', 'group', 'reward', 'length', 'text'], properties: { index: int0, group: str, reward: numOrNull, length: int0, truncated: { type: 'boolean' }, parts: { type: 'object', additionalProperties: num }, text: { description: 'the completion\'s first 300 characters', type: 'string', maxLength: 300 }, refReward: num } } },
            tokens: { description: 'per-token statistics (TokenSummary): valid tokens, entropy, clip fractions, ratio extremes and outliers', type: 'object', required: ['tokens'], properties: { tokens: int0 } },
            params: { type: 'object' },
          },
        },
      },
    },
    rolloutSample: {
      type: 'object', required: ['kind', 'index', 'group', 'prompt', 'completion', 'tokens', 'reward', 'length'],
      properties: {
        kind: { const: 'sample' }, index: int0, group: str, prompt: str, completion: str,
        tokens: { type: 'array', items: str }, tokenIds: { type: 'array', items: int0 },
        reward: numOrNull, rewardParts: { type: 'object', additionalProperties: numOrNull }, advantage: numOrNull,
        length: int0, truncated: { type: 'boolean' }, offset: int0, pair: str, role: str,
        hint: str, hintRatio: numOrNull, eepoStage: { type: 'integer', enum: [1, 2] },
        turns: {
          description: 'multi-turn episodes (tool environments, docs/environments.md): the turns in order; token spans index `tokens` (the loss_mask array is 0 on [end, resultEnd))',
          type: 'array',
          items: {
            type: 'object', required: ['text', 'reward', 'start', 'end', 'anchor'],
            properties: {
              text: str, call: str, result: str, error: str, reward: num, start: int0, end: int0, resultEnd: int0, anchor: str,
              stepGroup: str, stepReturn: numOrNull, stepAdvantage: numOrNull, episodeAdvantage: numOrNull, advantage: numOrNull,
            },
          },
        },
        tree: {
          description: 'rollout trees (Tree-GRPO, ARPO; docs/run-format.md): the sample is one root-to-leaf trajectory of tree `id`; it shares tokens [0, branchAt) with sample `parent` (null: the tree\'s root trajectory) and its turns from `branchTurn` on differ; algorithm-specific branch numbers (entropy, branchProb, advIntra, advInter, …) may follow',
          type: 'object', required: ['id', 'parent', 'branchAt', 'branchTurn'],
          properties: { id: str, parent: { type: ['integer', 'null'], minimum: 0 }, branchAt: int0, branchTurn: int0, node: str },
        },
      },
    },
    tokenDiffSummary: {
      description: 'summary.json of a token comparison folder (rl-lens diff-tokens, src/trainer/diffTokens.ts; docs/run-format.md, "Token comparison")',
      type: 'object',
      required: ['format', 'formatVersion', 'a', 'b', 'source', 'settings', 'counts', 'arrays', 'dataFile', 'index', 'vocab', 'risers', 'fallers', 'samples'],
      properties: {
        format: { const: 'rl-lens-token-diff' }, formatVersion: { type: 'integer', const: 1 }, createdAt: iso,
        key: { type: 'string', description: 'the cache key the folder was computed for (sides\' files, source, settings); a folder given with --out is reused when it matches' },
        a: { $ref: '#/definitions/tokenDiffCheckpoint' }, b: { $ref: '#/definitions/tokenDiffCheckpoint' },
        source: { type: 'object', required: ['kind', 'path'], properties: { kind: { type: 'string', enum: ['rollout', 'jsonl'] }, path: str, step: int0, temperature: num, splitOnOwn: int0 } },
        settings: { type: 'object', required: ['topK', 'temperature', 'batch', 'minCount'], properties: { topK: { type: 'integer', minimum: 1 }, temperature: { type: 'number', exclusiveMinimum: 0 }, batch: { type: 'integer', minimum: 1 }, minCount: { type: 'integer', minimum: 1 } } },
        counts: { type: 'object', required: ['samples', 'tokens', 'truncated'], properties: { samples: int0, tokens: int0, truncated: int0 } },
        meanDelta: numOrNull, meanKl: numOrNull,
        arrays: { type: 'array', items: { type: 'object', required: ['name', 'width'], properties: { name: { type: 'string', minLength: 1 }, width: { type: 'integer', minimum: 1 } } } },
        dataFile: { type: 'string', pattern: '^[^/\\\\]+\\.f32$' }, index: str, vocab: str,
        risers: { type: 'array', items: { $ref: '#/definitions/tokenDiffStat' } }, fallers: { type: 'array', items: { $ref: '#/definitions/tokenDiffStat' } },
        samples: { type: 'array', items: { type: 'object', required: ['index', 'length', 'sumDelta', 'meanKl', 'offset'], properties: { index: int0, length: int0, sumDelta: numOrNull, meanKl: numOrNull, offset: int0, truncated: { type: 'boolean' } } } },
        timings: { type: 'object', properties: { loadSeconds: num, computeSeconds: num, writeSeconds: num, tokensPerSecond: num } },
        backend: str,
      },
    },
    tokenDiffCheckpoint: { type: 'object', required: ['dir', 'step', 'family'], properties: { dir: str, step: int0, algorithm: str, family: str, tag: str, kind: { type: 'string', enum: ['checkpoint', 'base'], description: "'base': a pretrained model (dir = its spec, e.g. hf:owner/repo; step 0)" } } },
    tokenDiffStat: { type: 'object', required: ['token', 'count', 'meanDelta', 'sumDelta'], properties: { token: str, count: { type: 'integer', minimum: 1 }, meanDelta: numOrNull, sumDelta: numOrNull } },
    tokenDiffSample: {
      description: 'one line of samples.jsonl of a token comparison folder',
      type: 'object', required: ['index', 'prompt', 'completion', 'promptIds', 'tokenIds', 'tokens', 'length', 'offset', 'sumDelta', 'meanKl'],
      properties: {
        index: int0, prompt: str, completion: str, promptIds: { type: 'array', items: int0 }, tokenIds: { type: 'array', items: int0 }, tokens: { type: 'array', items: str },
        length: int0, offset: int0, sumDelta: numOrNull, meanKl: numOrNull, truncated: { type: 'boolean' },
        source: { type: 'object', properties: { index: int0, group: str, reward: numOrNull, line: { type: 'integer', minimum: 1 } } },
      },
    },
    checkpointMeta: {
      type: 'object', required: ['format', 'formatVersion', 'step', 'algorithm', 'time', 'config', 'tokenizer', 'model'],
      properties: {
        format: { const: 'rl-lens-checkpoint' }, formatVersion: { type: 'integer', const: 1 },
        step: int0, algorithm: str, time: iso, config: { type: 'object' },
        tokenizer: {
          type: 'object', required: ['type', 'vocab', 'bos', 'eos', 'pad'],
          description: 'char: the built-in character tokenizer, described in full by vocab; llama2c / huggingface: a pretrained model\'s tokenizer, whose files (tok*.bin, or tokenizer.json + tokenizer_config.json) lie beside the weights; -1 = no such special token',
          properties: {
            type: { type: 'string', enum: ['char', 'llama2c', 'huggingface'] }, vocab: { type: 'array', items: str },
            bos: { type: 'integer', minimum: -1 }, eos: { type: 'integer', minimum: -1 }, pad: int0,
            vocabSize: int0, files: { type: 'array', items: str }, source: str,
          },
          if: { properties: { type: { const: 'char' } } },
          then: { properties: { vocab: { minItems: 1 } } },
          else: { required: ['files'], properties: { files: { minItems: 1 } } },
        },
        model: { type: 'object' },
        metrics: { type: 'object', additionalProperties: numOrNull },
        eval: { type: 'object', required: ['passAtK', 'samplesPerPrompt', 'numPrompts'], properties: { passAtK, samplesPerPrompt: { type: 'integer', minimum: 1 }, numPrompts: int0 } },
        tag: str,
      },
    },
  },
} as const;
