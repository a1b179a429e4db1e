// Pure rendering of checkpoint reports (src/report/render.ts) against hand-written expectations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bar, flattenConfig, fmt, fmtPct, passAtKSection, renderReport, table, tensorSection } from '../../src/report/render';
import type { CheckpointEval, CheckpointReport, PassAtKResult, TensorRow } from '../../src/report/types';

test('fmt / fmtPct / bar', () => {
  assert.equal(fmt(0.12345), '0.1235');
  assert.equal(fmt(-2), '-2.0000');
  assert.equal(fmt(0), '0');
  assert.equal(fmt(1.5e-5), '1.500e-5');
  assert.equal(fmt(null), '—');
  assert.equal(fmt(Infinity), 'inf');
  assert.equal(fmtPct(0.8944271909999159), '89.44%');
  assert.equal(bar(0.5, 10), '█████·····');
  assert.equal(bar(0.55, 10), '█████▌····', '5.5 cells = 5 full + a half block');
  assert.equal(bar(2, 4), '████', 'clamped to 1');
  assert.equal(bar(NaN, 3), '···');
});

test('table aligns columns (numeric right-aligned)', () => {
  assert.deepEqual(table(['a', 'bb'], [['xyz', '1'], ['q', '22']], [false, true]), ['a    bb', '---  --', 'xyz   1', 'q    22']);
});

test('flattenConfig: sorted dotted keys, long arrays shortened', () => {
  assert.deepEqual(flattenConfig({ b: 1, a: { y: 'x', x: [1, 2] } }), ['a.x = [1,2]', 'a.y = "x"', 'b = 1']);
  const long = flattenConfig({ vocab: Array.from({ length: 100 }, (_, i) => `t${i}`) })[0];
  assert.match(long, /^vocab = \["t0",.*… \(100 items\)$/);
});

const row = (name: string, params: number, relChange?: number | null): TensorRow => ({ name, shape: [params], params, l2: 1, mean: 0, std: 0.5, maxAbs: 1, relChange });

test('tensorSection: few tensors → checkpoint order + the 5 most changed; many → top N and a summary of the rest', () => {
  const small = tensorSection([row('a', 2, 0.1), row('b', 3, 0.3), row('c', 4, null)], true);
  assert.equal(small[0], 'Most changed tensors (‖W - W_base‖ / ‖W_base‖):');
  assert.match(small[1], /^ {3}1\. b +30\.00%  █{10}$/);
  assert.match(small[2], /^ {3}2\. a +10\.00%  ███▍·+$/, '0.1/0.3 of 10 cells = 3.33 → 3 full + 3/8');
  const header = small.findIndex((l) => l.startsWith('tensor'));
  const tensorRows = small.slice(header + 3).filter((l) => !l.startsWith(' '));
  assert.deepEqual(tensorRows.map((l) => l.split(/\s+/)[0]), ['a', 'b', 'c'], 'table in checkpoint order');
  assert.match(tensorRows[2], /—$/, 'a tensor missing from the base shows —');
  // each tensor's statistics on the line below it, indented: every line fits half of a 1400 px window (~55 columns)
  assert.equal(small[small.length - 1], '    L2 1.0000  mean 0  std 0.5000  max|x| 1.0000'); // fmt: 4 decimals
  assert.ok(small.every((l) => l.length <= 55), small.filter((l) => l.length > 55).join('\n'));

  const many = Array.from({ length: 60 }, (_, i) => row(`t${String(i).padStart(2, '0')}`, 10 + i, i / 100));
  const big = tensorSection(many, true, 48, 4);
  assert.ok(big.includes('60 tensors; showing the 4 most changed, the other 56 summarized below.'), big.join('\n'));
  const h = big.indexOf('60 tensors; showing the 4 most changed, the other 56 summarized below.');
  assert.deepEqual(big.slice(h + 4).filter((l) => /^t\d/.test(l)).map((l) => l.split(/\s+/)[0]), ['t59', 't58', 't57', 't56']);
  // rest: t00..t55 → params Σ(10..65) = 56·(10+65)/2 = 2100; rel.change median of 0.00..0.55 = element 27 → 0.27, max 0.55
  assert.equal(big[big.length - 1], '… 56 more tensors, 2100 params; rel.change median 27.00%, max 55.00%');
  const noBase = tensorSection(many.map((r) => ({ ...r, relChange: undefined })), false, 48, 2);
  assert.ok(noBase[0].startsWith('60 tensors; showing the 2 largest'));
  assert.ok(!noBase.join('\n').includes('rel.change'));
});

const pk = (values: number[], k = [1, 2, 4]): PassAtKResult => ({ samples: 4, numPrompts: 2, temperature: 1, seed: 7, k, values, correctPerPrompt: [1, 2] });

test('passAtKSection: base and this side by side with Δ, chart bars, sharpening note', () => {
  const lines = passAtKSection(pk([0.75, 0.9, 1]), pk([0.25, 0.5, 1]), { base: 'base', this: 'this' });
  assert.equal(lines[0], 'n = 4 samples per prompt, 2 prompts, temperature 1, seed 7; unbiased estimator 1 - C(n-c,k)/C(n,k) (Chen et al. 2021)');
  assert.deepEqual(lines.slice(1, 6), [
    'k         base    this        Δ',
    '------  ------  ------  -------',
    'pass@1  0.2500  0.7500  +0.5000',
    'pass@2  0.5000  0.9000  +0.4000',
    'pass@4  1.0000  1.0000       ±0',
  ]);
  assert.ok(lines.includes(`  pass@1  base ${'█'.repeat(7)}▌${'·'.repeat(22)} 0.2500`), lines.join('\n'));
  assert.ok(lines.includes(`          this ${'█'.repeat(22)}▌${'·'.repeat(7)} 0.7500`));
  assert.equal(lines[lines.length - 2], 'pass@1 Δ +0.5000, pass@4 Δ ±0: the gain shrinks at large k (sharpening: base catches up with more samples)');
  assert.equal(lines[lines.length - 1], '(2 prompts: each value\'s standard error is at most 0.5/√2 = 0.3536)', '0.5/sqrt(2) = 0.35355');
  const alone = passAtKSection(pk([0.5, 0.75, 1]), undefined, { base: 'b', this: 't' });
  assert.equal(alone[3], 'pass@1  0.5000');
});

test('renderReport: header, metrics, generations in eval-set order, pass@k and config; no timings', () => {
  const ev = (completion: string, correct: boolean): CheckpointEval => ({
    generations: { greedy: true, seed: 1234, maxNewTokens: 5, numPrompts: 1, items: [{ index: 0, prompt: '2+3=', answer: '5', completion, finished: true, reward: correct ? 1.1 : 0.1, parts: { format: 1, accuracy: correct ? 1 : 0 }, correct }] },
    passAtK: pk(correct ? [0.75, 0.9, 1] : [0.25, 0.5, 1]),
  });
  const r: CheckpointReport = {
    version: 1, key: 'k',
    checkpoint: { dir: '/runs/r/checkpoints/step_2', name: 'step_2', step: 2, tag: 'final', runDir: '/runs/r', runName: 'my-run', algorithm: 'grpo', time: '2026-01-01T00:00:00Z' },
    base: { dir: '/runs/r/checkpoints/step_1', name: 'step_1', step: 1 },
    task: 'arithmetic (difficulty 1), rule reward', config: { seed: 1 }, metrics: { 'reward/mean': 0.5, kl: null },
    tensors: { count: 1, totalParams: 3, rows: [row('w', 3, 0.25)] },
    eval: ev('5', true), baseEval: ev('6', false),
    settings: { samples: 4, numPrompts: 2, seed: 7, temperature: 1, generations: true },
    timings: { statsMs: 123456 },
  };
  const text = renderReport(r);
  const lines = text.split('\n');
  assert.equal(lines[0], '# RL Lens checkpoint report: step_2 (step 2)');
  assert.ok(lines.includes('run:        my-run  (/runs/r)'));
  assert.ok(lines.includes('step:       2  [final]'));
  assert.ok(lines.includes('base:       step_1 (step 1)'));
  assert.ok(lines.includes('kl = —') && lines.includes('reward/mean = 0.5000'));
  assert.ok(lines.includes('[000] ✓ "2+3=" → "5"  reward 1.1000 (accuracy 1.0000, format 1.0000)  answer "5"'), text);
  assert.ok(lines.includes('greedy accuracy: 1/1 = 1.0000; mean reward 1.1000'));
  assert.ok(lines.includes('## pass@k: base (step_1) vs this (step_2)'));
  assert.ok(!text.includes('\u2212'), 'ASCII "-" for minus: VS Code boxes U+2212 as an ambiguous character');
  assert.ok(lines.includes('pass@1       0.2500       0.7500  +0.5000'), text); // 'base step 1' is 11 wide: 2 + 5 spaces before 0.2500
  assert.ok(lines.includes('seed = 1'));
  assert.ok(!text.includes('123456'), 'timings are not rendered (they would show as differences)');
  // model text stays on one line: newlines and quotes are escaped
  r.eval.generations.items[0].completion = 'a\nb"c';
  assert.ok(renderReport(r).includes('→ "a\\nb\\"c"'));
});

test('defaultSettings: from the checkpoint config; weights only above 50M parameters', async () => {
  const { defaultSettings } = await import('../../src/report/cache');
  assert.deepEqual(defaultSettings({ eval: { numPrompts: 100, samplesPerPrompt: 32, temperature: 0 }, derived: { parameters: 15136 } }),
    { samples: 32, numPrompts: 64, seed: 1234, temperature: 1, generations: true });
  assert.equal(defaultSettings({ derived: { parameters: 60_000_000 } }).generations, false);
  assert.equal(defaultSettings({ derived: { parameters: 60_000_000 } }, { generations: true }).generations, true);
  assert.deepEqual(defaultSettings(undefined, { samples: 4 }), { samples: 4, numPrompts: 32, seed: 1234, temperature: 1, generations: true });
});

