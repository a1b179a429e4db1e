// Token comparison against a base / reference model (issue 21): side A may be `base` (checkpoint B's pretrained base:
// its run's model.pretrained), a hub id, a llama2.c folder or a Hugging Face folder. On a real 2-step GRPO run on
// stories260K: `base` resolves to the run's hub id, its per-token log-probs equal an independent teacher-forced pass of
// the base loaded from the folder; the base against itself is Δ = 0, KL = 0; two pretrained models need --out and a
// folder given with --out is reused when made for the same key; a tokenizer that differs by one piece is refused
// naming both; a character-model checkpoint has no base; the CLI's --progress-events lines.
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../src/trainer/backend';
import { GPT } from '../../src/trainer/model/gpt';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { saveCheckpoint, loadCheckpoint } from '../../src/trainer/checkpoint';
import { loadPretrainedLocal } from '../../src/trainer/model/pretrained';
import { completionsFromRun, diffCheckpoints, diffTokens, tokenDiffSampleArrays } from '../../src/trainer/diffTokens';
import { baseModelOf, parseSide, readTokenDiffBlock, readTokenDiffSamples, tokenDiffKey } from '../../src/runio/tokenDiff';
import { run as cliRun } from '../../src/cli/diffTokens';
import { captureOutput } from './capture-output';
import { deepMerge, resolveConfig } from '../../src/trainer/config';
import '../../src/trainer/plugins';
import { runTraining } from '../../src/trainer/engine';
import { grpoStoriesPreset } from '../../src/shared/presets';
import { listCheckpoints } from '../../src/runio/reader';

const MODELS = path.resolve(__dirname, '../../../shared/models');
const S260 = path.join(MODELS, 'stories260K');
const skipStories = fs.existsSync(path.join(S260, 'stories260K.bin')) ? false : `${S260} not present`;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-difftok-sides-'));

before(async () => { await initBackend('wasm'); });

test('a character-model checkpoint has no base: "base" is refused naming checkpoint.json; a missing side names what it accepts', () => {
  const dir = path.join(tmp(), 'ck');
  const tok = new CharTokenizer('ab');
  const m = GPT.create({ vocabSize: tok.vocab.length, contextLength: 8, dModel: 8, nHeads: 1, nLayers: 1, mlpRatio: 2 }, 1);
  saveCheckpoint(dir, m, { step: 1, algorithm: 'grpo', time: new Date().toISOString(), config: { model: {} }, tokenizer: tok.spec() });
  m.dispose();
  assert.equal(baseModelOf(dir), undefined);
  assert.throws(() => parseSide('base', dir), /checkpoint\.json: its run has no pretrained base/);
  assert.throws(() => parseSide('base', undefined), /not a checkpoint folder/);
  assert.throws(() => parseSide(path.join(dir, 'nope')), /nope[/\\]checkpoint\.json: missing \(.* is neither a checkpoint folder nor a model/);
  assert.deepEqual(parseSide(dir), { kind: 'checkpoint', dir });
  assert.deepEqual(parseSide('hf:a/b'), { kind: 'pretrained', spec: 'hf:a/b' });
});

test('stories260K: base vs checkpoint (log-probs of A = the base model teacher-forced on its own), base vs itself Δ = 0, --out reuse, a different tokenizer refused, progress events', { skip: skipStories, timeout: 600_000 }, async () => {
  process.env.RL_LENS_MODELS = MODELS; process.env.HF_HOME = tmp(); process.env.HF_HUB_OFFLINE = '1';
  const root = tmp();
  const dir = path.join(root, 'run');
  const small = { backend: 'wasm', train: { steps: 2 }, eval: { every: 0 }, sampling: { maxNewTokens: 24, temperature: 0.8 }, checkpoint: { every: 2 }, rollouts: { every: 1, maxSamples: 8 }, rl: { promptsPerStep: 2, groupSize: 4 } };
  const res = await runTraining(resolveConfig(deepMerge(grpoStoriesPreset(), small)), { outDir: dir, progress: () => undefined });
  assert.equal(res.status, 'completed', res.error);
  const ck = listCheckpoints(dir).filter((c) => c.meta).pop()!.dir;
  assert.equal(baseModelOf(ck), 'hf:karpathy/tinyllamas/stories260K');

  // base ↔ checkpoint through the library (the run's temperature, cached next to B)
  const stages: string[] = [];
  const d = await diffCheckpoints('base', ck, `${dir}:2`, { onStage: (m) => stages.push(m) });
  assert.equal(d.cached, false);
  assert.deepEqual(stages, ['loading A (hf:karpathy/tinyllamas/stories260K)', `loading B (${ck})`]);
  assert.equal(d.summary.a.kind, 'base'); assert.equal(d.summary.a.dir, 'hf:karpathy/tinyllamas/stories260K'); assert.equal(d.summary.a.step, 0);
  assert.equal(d.summary.b.dir, path.resolve(ck));
  assert.equal(path.dirname(d.dir), path.join(ck, 'token-diff'));
  assert.equal(d.summary.key, path.basename(d.dir));
  // independent: the base loaded from the folder, the checkpoint from its files, the same completions
  const base = loadPretrainedLocal(S260, { trainable: false, maxContext: 160 });
  const B = loadCheckpoint(ck, { trainable: false });
  const { items } = completionsFromRun(dir, 2, B.tokenizer);
  const ref = await diffTokens(base.model, B.model, items, { temperature: 0.8 });
  base.model.dispose(); B.model.dispose();
  const lines = readTokenDiffSamples(d.dir);
  const block = readTokenDiffBlock(d.dir, d.summary, 0, lines.length);
  assert.equal(block.offset, 0);
  let worst = 0, n = 0;
  lines.forEach((l, i) => {
    const arr = tokenDiffSampleArrays(d.summary, d.summary.samples[i], block.data);
    for (let t = 0; t < l.length; t++) { worst = Math.max(worst, Math.abs(arr.logprob_a[t] - ref.samples[i].arrays.logprob_a[t]), Math.abs(arr.logprob_b[t] - ref.samples[i].arrays.logprob_b[t])); n++; }
  });
  assert.ok(n > 0 && worst <= 1e-6, `base side equals the independent pass (max |Δ| ${worst} over ${n} tokens)`);
  assert.ok(Math.abs(d.summary.meanDelta) > 1e-3, 'RL moved the log-probs away from the base');
  // a page of samples (from 2, 3 samples) is the same floats as the whole file's
  const page = readTokenDiffBlock(d.dir, d.summary, 2, 3);
  assert.equal(page.offset, d.summary.samples[2].offset);
  assert.deepEqual(Array.from(page.data.subarray(0, 5)), Array.from(block.data.subarray(page.offset, page.offset + 5)));
  // the second time: cached
  assert.equal((await diffCheckpoints('base', ck, `${dir}:2`)).cached, true);

  // two pretrained models (the same folder twice): --out required; Δ = 0, KL = 0; reused for the same key only
  const jsonl = path.join(root, 'c.jsonl');
  fs.writeFileSync(jsonl, '{"prompt":"Once upon a time","completion":" there was a little girl named Lily."}\n{"prompt":"Tom had a","completion":" big red ball."}\n');
  await assert.rejects(diffCheckpoints(S260, S260, jsonl), /is not a checkpoint folder: give the output folder \(--out DIR\)/);
  const out = path.join(root, 'self');
  const self = await diffCheckpoints(S260, S260, jsonl, { out });
  assert.equal(self.summary.a.kind, 'base'); assert.equal(self.summary.b.kind, 'base');
  assert.ok(self.summary.counts.tokens > 10);
  assert.ok(Math.abs(self.summary.meanDelta) < 1e-6 && self.summary.meanKl < 1e-6, `self: Δ ${self.summary.meanDelta}, KL ${self.summary.meanKl}`);
  assert.equal((await diffCheckpoints(S260, S260, jsonl, { out })).cached, true, 'the same key: reused');
  assert.equal((await diffCheckpoints(S260, S260, jsonl, { out, topK: 3 })).cached, false, 'another key: recomputed');
  assert.notEqual(tokenDiffKey({ kind: 'pretrained', spec: S260 }, { kind: 'pretrained', spec: S260 }, { kind: 'jsonl', path: jsonl }, { topK: 5, minCount: 3 }),
    tokenDiffKey({ kind: 'pretrained', spec: 'hf:karpathy/tinyllamas/stories260K' }, { kind: 'pretrained', spec: S260 }, { kind: 'jsonl', path: jsonl }, { topK: 5, minCount: 3 }));

  // a copy of the model whose tokenizer differs in one piece: refused, naming both sides
  const other = path.join(root, 'stories-othertok');
  fs.mkdirSync(other);
  fs.copyFileSync(path.join(S260, 'stories260K.bin'), path.join(other, 'stories260K.bin'));
  const tokBytes = fs.readFileSync(path.join(S260, 'tok512.bin'));
  const at = tokBytes.lastIndexOf(Buffer.from('e'));
  tokBytes[at] = 'q'.charCodeAt(0);
  fs.writeFileSync(path.join(other, 'tok512.bin'), tokBytes);
  await assert.rejects(diffCheckpoints(other, ck, jsonl), (e: Error) => /different tokenizers: A model .*stories-othertok has a llama2c tokenizer \(tok512\.bin, 512 tokens\), B checkpoint .* has a llama2c tokenizer/.test(e.message) || assert.fail(e.message));

  // the CLI: base as A, progress events as JSON lines on stderr, the base named in the summary
  const c = await captureOutput(() => cliRun(['base', ck, '--completions', `${dir}:1`, '--progress-events']));
  assert.equal(c.code, 0, c.err);
  const events = c.err.trim().split('\n').map((l) => JSON.parse(l) as { type: string; message: string; done?: number; total?: number });
  assert.ok(events.every((e) => e.type === 'progress'));
  assert.equal(events[0].message, 'loading A (hf:karpathy/tinyllamas/stories260K)');
  const last = events[events.length - 1];
  assert.equal(last.done, last.total); assert.ok((last.total ?? 0) > 0);
  assert.match(c.out, /^A hf:karpathy\/tinyllamas\/stories260K \(base model\)/);
});
