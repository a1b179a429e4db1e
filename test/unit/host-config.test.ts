import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { absolutizePaths, applyTraceRetention, deepMerge, isStrictJson, parseConfigText } from '../../src/host/configPrep';
import { findCodeReferences, untrustedRefusal } from '../../src/host/trust';
import { loadTemplates, newRunDirName } from '../../src/host/presets';
import { FAMILY_ORDER, PRESET_TABLE, formatDuration, presetEntry, startRunPresets } from '../../src/shared/presets';
import { statusText } from '../../src/host/ui/model/statusText';
import { GPU_PACKAGE, npmInstallArgs, platformProblem, tfjsVersion } from '../../src/host/gpuInstallPlan';

test('trust: configs that name code are found, harmless ones are not', () => {
  assert.deepEqual(findCodeReferences({ algorithm: 'grpo', task: { name: 'arithmetic', difficulty: 2 }, init: { checkpoint: 'runs/a/checkpoints/step_1' } }), []);
  const refs = findCodeReferences({ task: { name: 'arithmetic', rewardModule: './reward.js' }, reward: { type: 'custom', weights: [1] }, hooks: ['x.mjs'], note: 'see the docs of x.js', url: 'https://x/y.js' });
  assert.deepEqual(refs.map((r) => r.path), ['task.rewardModule', 'reward.type', 'hooks[0]']);
  const msg = untrustedRefusal('the config a.rllens.json', refs);
  assert.match(msg, /untrusted workspace/);
  assert.match(msg, /task\.rewardModule = \.\/reward\.js/);
  assert.match(msg, /Manage Workspace Trust/);
  // $schema and false/empty code keys are not code
  assert.deepEqual(findCodeReferences({ $schema: './schemas/x.js', module: false, code: '' }), []);
});

test('config prep: JSONC parsing errors name the file; overrides merge deeply', () => {
  assert.deepEqual(parseConfigText('// c\n{ "a": 1, /* x */ "b": { "c": 2, }, }', 'f.jsonc'), { a: 1, b: { c: 2 } });
  assert.throws(() => parseConfigText('{ "a": ', 'f.jsonc'), /f\.jsonc: not valid JSON\(C\)/);
  assert.throws(() => parseConfigText('[1]', 'f.json'), /f\.json: a config must be a JSON object/);
  assert.deepEqual(deepMerge({ a: { b: 1, c: 2 }, d: [1] }, { a: { c: 3 }, d: [2] }), { a: { b: 1, c: 3 }, d: [2] });
  assert.equal(isStrictJson('{"a":1}'), true);
  assert.equal(isStrictJson('{"a":1} // x'), false);
});

test('config prep: trace retention applies only where the config is silent; one rollouts section for every algorithm', () => {
  assert.equal(applyTraceRetention({ algorithm: 'sft' }, 0), undefined);
  assert.deepEqual(applyTraceRetention({ algorithm: 'sft', rollouts: { maxSamples: 8 } }, 5), { algorithm: 'sft', rollouts: { maxSamples: 8, every: 5 } });
  assert.equal(applyTraceRetention({ algorithm: 'sft', rollouts: { every: 2 } }, 5), undefined);
  // RL algorithms read the same `rollouts` section (which steps the trainer then writes: test/unit/rollout-step.test.ts)
  assert.deepEqual(applyTraceRetention({ algorithm: 'grpo' }, 3), { algorithm: 'grpo', rollouts: { every: 3 } });
  assert.equal(applyTraceRetention({ algorithm: 'ppo', rollouts: { every: 1 } }, 3), undefined);
});

test('config prep: relative path fields become absolute against the original config folder', () => {
  const out = absolutizePaths({ task: { rewardModule: './r.js', name: 'arithmetic' }, init: { checkpoint: '../runs/a/checkpoints/step_1' }, reward: { type: 'model', checkpoint: '/abs/ck' }, dataPath: 'data/p.jsonl', name: 'x.y' }, '/ws/cfg');
  assert.deepEqual(out, { task: { rewardModule: '/ws/cfg/r.js', name: 'arithmetic' }, init: { checkpoint: '/ws/runs/a/checkpoints/step_1' }, reward: { type: 'model', checkpoint: '/abs/ck' }, dataPath: '/ws/cfg/data/p.jsonl', name: 'x.y' });
});

test('templates: every shipped template parses, has a label, and run folder names are unique', () => {
  const dir = path.resolve(__dirname, '../../media/templates');
  const ts = loadTemplates(dir);
  assert.ok(ts.length >= 2);
  for (const t of ts) {
    const c = parseConfigText(t.text, t.file);
    assert.equal(typeof c.algorithm, 'string', `${t.file}: algorithm`);
    assert.ok(t.label.length > 3 && !t.label.startsWith('//'), `${t.file}: label`);
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-name-'));
  const now = new Date(2026, 0, 2, 3, 4, 5);
  const n1 = newRunDirName(tmp, { algorithm: 'grpo', task: { name: 'arithmetic' } }, now);
  assert.equal(n1, 'grpo-arithmetic-20260102-030405');
  fs.mkdirSync(path.join(tmp, n1));
  assert.equal(newRunDirName(tmp, { algorithm: 'grpo', task: { name: 'arithmetic' } }, now), `${n1}-2`);
});

test('status bar text', () => {
  assert.equal(statusText({ name: 'r', status: 'running', step: 12, totalSteps: 40, headline: { short: 'r', value: 0.53125 }, tokensPerS: 12345, backend: 'wasm' }), '$(sync~spin) RL Lens · 12/40 · r 0.531 · 12.3k tok/s · wasm');
  assert.equal(statusText({ name: 'r', status: 'failed' }), '$(error) RL Lens');
});

test('GPU backend install plan: version matches the bundled tfjs-core, scripts allowed, nothing saved, Linux x64 only', () => {
  const root = path.resolve(__dirname, '../..');
  const core = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).dependencies['@tensorflow/tfjs-core'].replace(/^[\^~]/, '');
  assert.equal(tfjsVersion(root), core);
  const args = npmInstallArgs('4.22.0');
  assert.equal(args[0], 'install');
  assert.ok(args.includes('--no-save') && args.includes('--ignore-scripts=false'));
  assert.equal(args.at(-1), `${GPU_PACKAGE}@4.22.0`);
  assert.equal(platformProblem('linux', 'x64'), undefined);
  assert.match(platformProblem('darwin', 'arm64') ?? '', /only for Linux x64 \(this is darwin-arm64\)/);
});

test('templates: the RLHF pipeline template is the trainer\'s rlhf-arithmetic preset (same resolved config)', async () => {
  const { resolveConfig } = await import('../../src/trainer/config');
  const { rlhfArithmeticPreset } = await import('../../src/trainer/preference');
  const t = loadTemplates(path.resolve(__dirname, '../../media/templates')).find((x) => x.id === 'rlhf-arithmetic');
  assert.ok(t, 'media/templates/rlhf-arithmetic.jsonc');
  const fromTemplate = resolveConfig(parseConfigText(t.text, t.file) as Record<string, unknown>);
  const fromPreset = resolveConfig(rlhfArithmeticPreset());
  assert.deepEqual(fromTemplate, fromPreset);
});

test('templates: the DPO template is the trainer\'s dpo-arithmetic preset', async () => {
  const { resolveConfig } = await import('../../src/trainer/config');
  const { preferenceArithmeticPreset } = await import('../../src/trainer/preference');
  const t = loadTemplates(path.resolve(__dirname, '../../media/templates')).find((x) => x.id === 'dpo-arithmetic')!;
  assert.deepEqual(resolveConfig(parseConfigText(t.text, t.file) as Record<string, unknown>), resolveConfig(preferenceArithmeticPreset('dpo')));
});

test('presets: one source: every template named like a preset is that preset (same resolved config as `rl-lens train --preset ID`)', async () => {
  await import('../../src/trainer/plugins');
  const { resolveConfig } = await import('../../src/trainer/config');
  const { PRESETS } = await import('../../src/trainer/presets');
  const ts = loadTemplates(path.resolve(__dirname, '../../media/templates'));
  const shared = ts.filter((t) => PRESET_TABLE.some((p) => p.id === t.id));
  assert.ok(shared.length >= 8, `templates with a preset id: ${shared.map((t) => t.id).join(', ')}`);
  for (const t of shared) assert.deepEqual(resolveConfig(parseConfigText(t.text, t.file) as Record<string, unknown>), resolveConfig(PRESETS[t.id]()), `${t.id}: template and preset differ`);
  // the CLI's table is the shared one
  for (const p of PRESET_TABLE) assert.equal(PRESETS[p.id], p.make, p.id);
  // the extension's grpo-arithmetic is the README's (80 GRPO steps after a 400-step warm start, difficulty 1)
  const g = resolveConfig(presetEntry('grpo-arithmetic')!.make()) as unknown as { train: { steps: number }; task: { difficulty: number }; rl: { warmStart: { steps: number } } };
  assert.deepEqual([g.train.steps, g.task.difficulty, g.rl.warmStart.steps], [80, 1, 400]);
});

test('presets: Start Run lists the recommended preset first, then by family (not alphabetically); labels carry measured durations', () => {
  const list = startRunPresets();
  assert.equal(list[0].id, 'grpo-stories', 'the default run (GRPO on the pretrained stories260K) comes first');
  assert.equal(list[0].recommended, true);
  const fams = list.slice(1).map((p) => FAMILY_ORDER.indexOf(p.family));
  assert.deepEqual(fams, [...fams].sort((a, b) => a - b), 'grouped by family in FAMILY_ORDER');
  assert.notDeepEqual(list.map((p) => p.id), [...list.map((p) => p.id)].sort(), 'not alphabetical');
  for (const p of list) assert.ok(typeof p.seconds === 'number' && p.seconds > 0, `${p.id}: measured`);
  assert.equal(formatDuration(6.4), '~5 s');
  assert.equal(formatDuration(61), '~1 min');
  assert.equal(formatDuration(undefined), '');
  // a fake table: recommended first whatever its family, then family order, then duration
  const mk = () => ({});
  const t = startRunPresets([
    { id: 'a-sft', family: 'sft', startRun: true, seconds: 1, label: '', detail: '', make: mk },
    { id: 'b-ppo', family: 'ppo', startRun: true, seconds: 9, label: '', detail: '', make: mk },
    { id: 'c-grpo-long', family: 'grpo', startRun: true, seconds: 90, label: '', detail: '', make: mk },
    { id: 'd-grpo', family: 'grpo', startRun: true, seconds: 5, label: '', detail: '', make: mk },
    { id: 'e-pref', family: 'preference', startRun: true, recommended: true, seconds: 3, label: '', detail: '', make: mk },
    { id: 'f-hidden', family: 'grpo', label: '', detail: '', make: mk },
  ]);
  assert.deepEqual(t.map((p) => p.id), ['e-pref', 'd-grpo', 'c-grpo-long', 'b-ppo', 'a-sft']);
});

test('checkpoint report documents wrap (fit a 1400 px window, no cut-off tables) and do not box ambiguous characters', () => {
  const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../package.json'), 'utf8'));
  const d = pkg.contributes.configurationDefaults?.['[rl-lens-report]'];
  assert.equal(d?.['editor.wordWrap'], 'on');
  assert.equal(d?.['editor.unicodeHighlight.ambiguousCharacters'], false);
});
