/**
 * GHPO (guided hybrid PO): the hint schedule (algorithms/ghpo.ts via the façade) against Python written from the
 * authors' code (test/fixtures/eepo_ghpo_delta_ref.py: `all(acc <= 0)` → regenerate with solution[:round(len·ω)],
 * Python's half-to-even round, ω 0.25 → 0.5 → 0.75), then the rollout: groups that fail entirely are regenerated with
 * the hint in the prompt, their reward is the task's reward of hint + completion, and the hint is stored on the group
 * and its samples (rollout jsonl). Exact comparisons (strings, integers).
 */
import { before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as R from '../../src/trainer/algorithms/reference';
import { roundHalfEven } from '../../src/trainer/algorithms/ghpo';
import { initBackend } from '../../src/trainer/backend';
import { GPT } from '../../src/trainer/model/gpt';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { createTask } from '../../src/trainer/tasks';
import { rlTaskFrom } from '../../src/trainer/rl/types';
import { resolveRlConfig } from '../../src/trainer/rl/config';
import { rollout } from '../../src/trainer/rl/rollout';
import { runRl } from '../../src/trainer/rl/loop';
import { Rng } from '../../src/trainer/rng';

const fx = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'eepo-ghpo-delta-reference.json'), 'utf8'));

before(async () => { await initBackend('cpu'); });

test('ghpoHintSchedule = the authors\' staged refinement (Python reference)', () => {
  for (const c of fx.ghpo) {
    assert.deepEqual(R.ghpoHintSchedule({ solution: c.solution, stageAccuracies: c.stageAccuracies }), { stage: c.stage, omega: c.omega, hint: c.hint }, JSON.stringify(c));
  }
  for (const c of fx.ghpoHint) assert.equal(R.ghpoHintText({ solution: c.solution, omega: c.omega }), c.hint, `${c.solution} ω ${c.omega}`);
  // Python's round: ties to even (JS Math.round would give 1 for 0.5 and 3 for 2.5)
  assert.deepEqual([0.5, 1.5, 2.5, 3.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, 4, 2, 3]);
  assert.throws(() => R.ghpoHintText({ solution: '12', omega: 1.5 }), /hint ratio/);
});

test('rollout with rl.ghpo: all-wrong groups regenerated with a growing hint, reward on hint + completion, hint recorded', () => {
  const tok = new CharTokenizer();
  const task = rlTaskFrom(createTask('delta-shift', { difficulty: 2 }));
  // a random model never solves delta-shift (4-digit answers): every group fails → hints up to ω 0.75
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 16, dModel: 16, nHeads: 2, nLayers: 1 }, 7);
  const cfg = resolveRlConfig('grpo', { promptsPerStep: 3, groupSize: 4, maxNewTokens: 5, ghpo: { enabled: true } });
  const ro = rollout(policy, task, tok, cfg, new Rng(1), 1);
  assert.equal(ro.extraMetrics!['ghpo/all_wrong_groups'], 3);
  assert.equal(ro.extraMetrics!['ghpo/hinted_groups'], 3);
  for (const g of ro.groups) {
    assert.ok(g.hint !== undefined && g.hintRatio !== undefined, 'group records its hint');
    assert.ok(String(g.answer).startsWith(g.hint!), `hint ${g.hint} is the beginning of ${g.answer}`);
    for (const i of g.samples) {
      const s = ro.samples[i];
      assert.equal(s.hint, g.hint);
      // the prompt the policy saw ends with the hint; the reward judged hint + completion
      assert.deepEqual(s.promptIds, tok.encode(g.prompt + g.hint, { bos: true }));
      assert.deepEqual(s.reward, task.reward(s.item, g.hint + s.completion, s.finished));
    }
  }
  // a group that does not fail keeps its samples unhinted: startStep in the future = plain RL
  const later = resolveRlConfig('grpo', { promptsPerStep: 3, groupSize: 4, maxNewTokens: 5, ghpo: { enabled: true, startStep: 5 } });
  const ro2 = rollout(policy, task, tok, later, new Rng(1), 1);
  assert.ok(ro2.groups.every((g) => g.hint === undefined) && ro2.samples.every((s) => s.hint === undefined));
  policy.dispose();
});

test('a GHPO run stores the hint in the rollout records (groups and samples) and keeps numTensors stable', async () => {
  const tok = new CharTokenizer();
  const task = rlTaskFrom(createTask('delta-shift', { difficulty: 1 }));
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 16, dModel: 16, nHeads: 2, nLayers: 1 }, 3);
  const ref = policy.clone(false);
  const seen: { groups: Record<string, unknown>[]; samples: Record<string, unknown>[] }[] = [];
  const res = await runRl({ policy, ref, tokenizer: tok, task, seed: 3 }, 'grpo', { steps: 3, promptsPerStep: 2, groupSize: 4, maxNewTokens: 5, eval: { every: 0 }, ghpo: { enabled: true } }, {
    rollout: (_s, r) => seen.push({ groups: r.header.groups as Record<string, unknown>[], samples: r.samples as Record<string, unknown>[] }),
  });
  const g = seen[0].groups.find((x) => typeof x.hint === 'string');
  assert.ok(g, 'a hinted group in the stored header');
  assert.equal(typeof g!.hintRatio, 'number');
  assert.ok(seen[0].samples.some((s) => s.hint === g!.hint));
  const counts = res.metrics.map((m) => m['num_tensors']);
  assert.equal(counts[2], counts[1], `numTensors ${counts}`);
  policy.dispose(); ref.dispose();
});

test('config: rl.ghpo fields validated with the field named', () => {
  assert.throws(() => resolveRlConfig('grpo', { ghpo: { hintRatios: [] } }), /rl\.ghpo\.hintRatios/);
  assert.throws(() => resolveRlConfig('grpo', { ghpo: { hintRatios: [0.5, 2] } }), /rl\.ghpo\.hintRatios/);
  assert.throws(() => resolveRlConfig('grpo', { ghpo: { startStep: 0 } }), /rl\.ghpo\.startStep/);
  assert.deepEqual(resolveRlConfig('grpo', { ghpo: { hintRatios: [0.5] } }).ghpo.hintRatios, [0.5]);
});

test('group view data: groupSummary carries the hint the group was given (and none for unhinted groups)', async () => {
  const { groupSummary } = await import('../../src/webview/data/step');
  const sample = (group: string) => ({ kind: 'sample', index: 0, group, prompt: 'd:48=', completion: '9', tokens: ['9'], reward: 1, length: 1, hint: '5' });
  const step = {
    header: { kind: 'header', step: 1, numSamples: 2, arrays: [], groups: [
      { id: 'a', prompt: 'd:48=', answer: '59', samples: [0], rewards: [1], mean: 1, std: 0, hint: '5', hintRatio: 0.5, hintStage: 2 },
      { id: 'b', prompt: 'd:12=', answer: '23', samples: [1], rewards: [0], mean: 0, std: 0 },
    ] },
    samples: [sample('a'), { ...sample('b'), hint: undefined }],
  };
  type Step = Parameters<typeof groupSummary>[0];
  assert.deepEqual(groupSummary(step as unknown as Step, 'a')!.hint, { text: '5', ratio: 0.5, stage: 2 });
  assert.equal(groupSummary(step as unknown as Step, 'b')!.hint, undefined);
});

test('a hinted prompt that leaves no room in the context: an error naming rl.ghpo and model.contextLength', () => {
  const tok = new CharTokenizer();
  const task = rlTaskFrom(createTask('delta-shift', { difficulty: 4 }));   // prompts of 9-10 tokens with BOS
  const policy = GPT.create({ vocabSize: tok.size, contextLength: 11, dModel: 16, nHeads: 2, nLayers: 1 }, 7);
  const cfg = resolveRlConfig('grpo', { promptsPerStep: 2, groupSize: 2, maxNewTokens: 2, ghpo: { enabled: true } });
  assert.throws(() => rollout(policy, task, tok, cfg, new Rng(1), 1), /rl\.ghpo: the hinted prompt .* model\.contextLength 11/);
  policy.dispose();
});
