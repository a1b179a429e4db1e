// Broken 4 of issue 16: every run gets a token view. Samples with text but no tokens (TRL imports) are tokenized when a
// step is served (src/host/tokenize.ts via getStep): with the run's tokenizer.json when one is found (here a real one,
// stories260K's tok512 converted in a temp folder; ../shared is never copied into the repository), else an approximate
// segmentation that says so; per-sample reward / advantage are broadcast onto every token.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { approximateTokens, findTokenizerFile, loadTokenizer, withTokenView } from '../../src/host/tokenize';
import { getStep } from '../../src/host/ui/panels/dataProvider';
import { importRun } from '../../src/importers';
import { listRolloutSteps } from '../../src/runio/reader';
import { packRolloutStep, sampleArray } from '../../src/shared/rolloutStep';
import { toRolloutStep } from '../../src/shared/protocol';
import { llama2cEncode, llama2cToTokenizerJson, readLlama2cTokenizer, stories260kTokenizerBin } from '../fixtures/llama2cTokenizer';

const root = path.resolve(__dirname, '..', '..');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-tok-'));
const TRL = path.join(root, 'test', 'fixtures', 'importers', 'trl', 'Qwen2-0.5B-GRPO');
const tokBin = stories260kTokenizerBin(root);

function textOnlyStep() {
  return packRolloutStep({
    header: { step: 3, algorithm: 'grpo', arrays: [], groups: [{ id: 'g0', prompt: 'p', samples: [0, 1, 2], rewards: [1, 0, 0.5], mean: 0.5, std: 0.4 }] },
    samples: [
      { group: 'g0', prompt: 'p', completion: 'Once upon a time, 42 cats.', tokens: [], reward: 1, advantage: 1.2, length: 0 },
      { group: 'g0', prompt: 'p', completion: 'no  way\n<|im_end|>', tokens: [], reward: 0, advantage: -0.8, length: 0 },
      { group: 'g0', prompt: 'p', completion: '', tokens: [], reward: 0.5, length: 0 },
    ],
    arrays: [{}, {}, {}],
  });
}

test('approximate segmentation: words with their leading space, single digits, punctuation; joined it is the text', () => {
  assert.deepEqual(approximateTokens('Once upon a time, 42 cats.'), ['Once', ' upon', ' a', ' time', ',', ' 4', '2', ' cats', '.']);
  for (const t of ['no  way\n<|im_end|>', '  lead', 'café ✓ naïve\t\tx', 'تجربة 数字 123', '']) assert.equal(approximateTokens(t).join(''), t);
});

test('withTokenView without a tokenizer: approximate tokens, LABELLED; reward and advantage broadcast onto every token', () => {
  const { step, info } = withTokenView(textOnlyStep(), undefined, 'no tokenizer.json found');
  assert.ok(info);
  assert.equal(info.approximate, true);
  assert.equal(info.source, 'approximate');
  assert.match(info.note, /APPROXIMATE/);
  assert.match(info.note, /broadcast/);
  assert.deepEqual(info.broadcast, ['sequence_reward', 'advantage']);
  assert.equal((step.header as { tokenization?: { approximate: boolean } }).tokenization?.approximate, true, 'the header says so too');
  const s0 = step.samples[0];
  assert.equal(s0.tokens.join(''), 'Once upon a time, 42 cats.');
  assert.equal(s0.length, s0.tokens.length);
  assert.equal(s0.tokensApproximate, true);
  assert.deepEqual([...sampleArray(step, 0, 'advantage')!], new Array(s0.length).fill(Math.fround(1.2)));
  assert.deepEqual([...sampleArray(step, 1, 'sequence_reward')!], new Array(step.samples[1].length).fill(0));
  assert.equal(step.samples[2].length, 0, 'an empty completion stays empty');
  // a step whose samples have tokens is returned as it is
  const again = withTokenView(step, undefined);
  assert.equal(again.step, step);
  assert.equal(again.info, undefined);
});

test('the run\'s tokenizer.json (stories260K tok512, converted): ids equal llama2.c\'s own encoder, token texts join to the completion', { skip: tokBin ? false : '../shared/models/stories260K not present' }, () => {
  const dir = tmp();
  const vocab = readLlama2cTokenizer(tokBin!);
  const ck = path.join(dir, 'src', 'checkpoint-5');
  fs.mkdirSync(ck, { recursive: true });
  fs.mkdirSync(path.join(dir, 'src', 'checkpoint-1'));
  fs.writeFileSync(path.join(dir, 'src', 'checkpoint-1', 'tokenizer.json'), '{"not":"a tokenizer"}');
  fs.writeFileSync(path.join(ck, 'tokenizer.json'), JSON.stringify(llama2cToTokenizerJson(vocab)));
  // found through the imported run's source folder, newest checkpoint first
  const runDir = path.join(dir, 'run');
  fs.mkdirSync(runDir);
  assert.equal(findTokenizerFile(runDir, { source: { format: 'trl', path: path.join(dir, 'src') } }), path.join(ck, 'tokenizer.json'));
  assert.equal(findTokenizerFile(runDir, undefined), undefined);
  assert.equal(findTokenizerFile(runDir, undefined, ck), path.join(ck, 'tokenizer.json'), 'a model folder named in the setting');
  const tok = loadTokenizer(path.join(ck, 'tokenizer.json'));
  const { step, info } = withTokenView(textOnlyStep(), tok);
  assert.equal(info?.approximate, false);
  assert.equal(info?.source, 'tokenizer');
  assert.doesNotMatch(info!.note, /APPROXIMATE/);
  for (const i of [0, 1]) {
    const s = step.samples[i];
    assert.deepEqual(s.tokenIds, llama2cEncode(vocab, s.completion), `sample ${i} ids`);
    assert.equal(s.tokens.join(''), s.completion, `sample ${i} text`);
    assert.equal(s.length, s.tokenIds!.length);
  }
  assert.deepEqual(step.samples[0].tokens.slice(0, 4), ['Once', ' upon', ' a', ' time']);
  assert.throws(() => loadTokenizer(path.join(dir, 'src', 'checkpoint-1', 'tokenizer.json')), /not a Hugging Face tokenizer\.json/);
});

test('getStep on a real TRL import: the token grid is not empty; approximate without a tokenizer, the tokenizer when the source has one', async () => {
  const dir = tmp();
  const src = path.join(dir, 'trl');
  fs.cpSync(TRL, src, { recursive: true });
  const out = path.join(dir, 'run');
  await importRun(src, { out });
  const steps = listRolloutSteps(out);
  assert.ok(steps.length > 0);
  const p = getStep(out, steps[0]);
  assert.ok(p.samples.length > 0);
  assert.ok(p.samples.every((s) => !s.completion || s.length > 0), 'every completion with text has tokens');
  assert.equal(p.tokenization?.approximate, true);
  assert.ok(p.header.arrays.includes('sequence_reward'));
  const st = toRolloutStep(p);
  const s = st.samples.findIndex((x) => x.length > 0);
  assert.equal(sampleArray(st, s, 'sequence_reward')![0], Math.fround(st.samples[s].reward));
  if (tokBin) {
    fs.mkdirSync(path.join(src, 'checkpoint-2'));
    fs.writeFileSync(path.join(src, 'checkpoint-2', 'tokenizer.json'), JSON.stringify(llama2cToTokenizerJson(readLlama2cTokenizer(tokBin))));
    const q = getStep(out, steps[0]);
    assert.equal(q.tokenization?.source, 'tokenizer');
    assert.equal(q.tokenization?.tokenizer, path.join(src, 'checkpoint-2', 'tokenizer.json'));
    assert.ok(q.samples.every((x) => !x.completion || (x.tokenIds?.length ?? 0) > 0));
  }
});
