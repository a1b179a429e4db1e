// Token comparison, after the first user walk-through (issue 21 follow-ups): "previous checkpoint" skips a same-step
// alias (step_N_final), identical checkpoints are refused (CLI: unless --allow-same), the completions are checked
// before any model is loaded, the CLI's last line is labelled, a failed CLI run's message does not repeat its prefix;
// the colour domain is one per comparison and metric (hand-computed percentiles over all tokens, not a page's), the
// ratio legend reads in ratio units centred on 1, byte pieces show as <0xHH> (∅ only for an empty token), one number
// format, "no samples", "32 of 64 completions".
import { test, before } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../../src/trainer/backend';
import { GPT } from '../../src/trainer/model/gpt';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { saveCheckpoint } from '../../src/trainer/checkpoint';
import { run as cliRun } from '../../src/cli/diffTokens';
import { captureOutput } from './capture-output';
import { listCheckpoints } from '../../src/runio/reader';
import { identicalCheckpoints, previousCheckpoint, referenceLabel } from '../../src/runio/checkpointPairs';
import { cliFailure } from '../../src/host/cliFailure';
import {
  byteLabel, comparisonDomain, completionsLabel, fmtNum, legendFormat, pageLabel, tokenCell, tokenDiffDomains, type PageSample,
} from '../../src/webview/data/tokenDiff';
import { quantileSorted } from '../../src/webview/data/scales';
import { tokenDiffArrays } from '../../src/runio/tokenDiff';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-tdfix-'));
before(async () => { await initBackend('wasm'); });

function charCheckpoint(dir: string, seed: number, step: number, tag?: string): string {
  const tok = new CharTokenizer('abc +=0123456789');
  const m = GPT.create({ vocabSize: tok.vocab.length, contextLength: 24, dModel: 16, nHeads: 2, nLayers: 1, mlpRatio: 2 }, seed);
  saveCheckpoint(dir, m, { step, algorithm: 'grpo', time: new Date().toISOString(), config: {}, tokenizer: tok.spec(), ...(tag ? { tag } : {}) });
  m.dispose();
  return dir;
}

function copyDir(from: string, to: string, step?: number, tag?: string): string {
  fs.cpSync(from, to, { recursive: true });
  if (step !== undefined) {
    const f = path.join(to, 'checkpoint.json');
    const m = JSON.parse(fs.readFileSync(f, 'utf8'));
    m.step = step; if (tag) m.tag = tag;
    fs.writeFileSync(f, JSON.stringify(m));
  }
  return to;
}

test('previous checkpoint: the latest with a smaller step (a same-step alias is skipped); identical checkpoints are named', () => {
  const root = tmp();
  const ck = (n: string) => path.join(root, 'run', 'checkpoints', n);
  const c4 = charCheckpoint(ck('step_00000004'), 1, 4);
  const c8 = charCheckpoint(ck('step_00000008'), 2, 8);
  const c12 = charCheckpoint(ck('step_00000012'), 3, 12);
  const c12f = copyDir(c12, ck('step_00000012_final'), 12, 'final');
  const list = listCheckpoints(path.join(root, 'run'));
  assert.deepEqual(list.map((c) => c.name), ['step_00000004', 'step_00000008', 'step_00000012', 'step_00000012_final']);
  assert.equal(previousCheckpoint(list, c12f)?.dir, c8, 'step_12_final → step 8, not its step_12 alias');
  assert.equal(previousCheckpoint(list, c12)?.dir, c8);
  assert.equal(previousCheckpoint(list, c8)?.dir, c4);
  assert.equal(previousCheckpoint(list, c4), undefined, 'the first has none');
  // the A picker's reference, named for what it is
  assert.equal(referenceLabel(c4, list), 'First checkpoint (step 4)');
  assert.equal(referenceLabel(path.join(root, 'sft-elsewhere'), list), 'Init checkpoint');
  assert.equal(referenceLabel(c8, list.map((c) => (c.dir === c8 ? { ...c, meta: { ...c.meta!, tag: 'sft' } } : c))), 'SFT warm start');
  // identical: same folder, same step of one run, byte-identical weights elsewhere; different weights: undefined
  assert.match(identicalCheckpoints(c12, c12)!, /same checkpoint/);
  assert.match(identicalCheckpoints(c12, c12f)!, /same step \(12\) of one run/);
  const elsewhere = copyDir(c8, path.join(root, 'other', 'checkpoints', 'step_00000099'), 99);
  assert.match(identicalCheckpoints(elsewhere, c8)!, /byte-identical weights/);
  assert.equal(identicalCheckpoints(c8, c12f), undefined);
  assert.equal(identicalCheckpoints(c4, c8), undefined);
  // one byte changed: not identical
  const w = fs.readdirSync(elsewhere).find((f) => f.endsWith('.safetensors'))!;
  const buf = fs.readFileSync(path.join(elsewhere, w)); buf[buf.length - 1] ^= 1; fs.writeFileSync(path.join(elsewhere, w), buf);
  assert.equal(identicalCheckpoints(elsewhere, c8), undefined);
});

test('rl-lens diff-tokens: identical checkpoints refused unless --allow-same; completions checked before loading; last line labelled', async () => {
  const root = tmp();
  const ck = (n: string) => path.join(root, 'run', 'checkpoints', n);
  const c1 = charCheckpoint(ck('step_00000001'), 1, 1);
  const c2 = charCheckpoint(ck('step_00000002'), 2, 2);
  const c2f = copyDir(c2, ck('step_00000002_final'), 2, 'final');
  const jsonl = path.join(root, 'c.jsonl');
  fs.writeFileSync(jsonl, '{"prompt":"1+2=","completion":"3"}\n{"prompt":"12+30=","completion":"42"}\n');
  const cli = (args: string[]) => captureOutput(() => cliRun(args));
  let r = await cli([c2, c2f, '--completions', jsonl]);
  assert.equal(r.code, 1);
  assert.match(r.err, /same step \(2\) of one run.*--allow-same/s);
  r = await cli([c2, c2f, '--completions', jsonl, '--allow-same', '--min-count', '1']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /mean Δlogprob \(B − A\) \+0\.000/);
  // a bad JSONL fails before any model is loaded: B's weights are garbage and are never read
  const broken = copyDir(c2, path.join(root, 'run2', 'checkpoints', 'step_00000003'), 3);
  for (const f of fs.readdirSync(broken).filter((x) => x.endsWith('.safetensors'))) fs.writeFileSync(path.join(broken, f), 'not safetensors');
  const bad = path.join(root, 'bad.jsonl');
  fs.writeFileSync(bad, '{"prompt":"1+2=","completion":"3"}\nnot json\n');
  r = await cli([c1, broken, '--completions', bad]);
  assert.equal(r.code, 1);
  assert.match(r.err, /bad\.jsonl:2: not JSON/);
  assert.doesNotMatch(r.err, /safetensors/);
  r = await cli([c1, broken, '--completions', `${path.join(root, 'run')}:7`]);
  assert.equal(r.code, 1);
  assert.match(r.err, /step_00000007\.jsonl: no such rollout step/);
  // a good run: the folder on the last line, labelled
  r = await cli([c1, c2, '--completions', jsonl, '--min-count', '1']);
  assert.equal(r.code, 0, r.err);
  const last = r.out.trim().split('\n').pop()!;
  assert.match(last, /^cached in: .*step_00000002[/\\]token-diff[/\\][0-9a-f]{16}$/);
  assert.ok(fs.existsSync(path.join(last.replace(/^cached in: /, ''), 'summary.json')));
});

test('a failed CLI run: its prefix is not repeated, progress lines left out', () => {
  const err = '{"type":"progress","message":"loading A"}\nrl-lens diff-tokens: /x/bad.jsonl:2: not JSON (Unexpected token)\n';
  assert.equal(cliFailure('rl-lens diff-tokens', 1, err), 'rl-lens diff-tokens exited with 1: /x/bad.jsonl:2: not JSON (Unexpected token)');
  assert.equal(cliFailure('rl-lens diff-tokens', 1, ''), 'rl-lens diff-tokens exited with 1');
  assert.equal(cliFailure('rl-lens diff-tokens', 2, 'other: x'), 'rl-lens diff-tokens exited with 2: other: x');
});

/** samples with only logprob_a / logprob_b / kl set (k = 1), laid out as tokens.f32 */
function layout(deltas: number[][]): { arrays: { name: string; width: number }[]; samples: { offset: number; length: number }[]; data: Float32Array; pages: PageSample[] } {
  const arrays = tokenDiffArrays(1);
  const stride = arrays.reduce((a, x) => a + x.width, 0);
  const total = deltas.reduce((a, d) => a + d.length, 0);
  const data = new Float32Array(total * stride);
  const samples: { offset: number; length: number }[] = [];
  const pages: PageSample[] = [];
  let off = 0;
  deltas.forEach((d, i) => {
    const L = d.length;
    const view: Record<string, Float32Array> = {};
    let at = off;
    for (const a of arrays) { view[a.name] = data.subarray(at, at + a.width * L); at += a.width * L; }
    d.forEach((x, t) => { view.logprob_a[t] = -1; view.logprob_b[t] = -1 + x; view.kl[t] = Math.abs(x) / 10; view.entropy_a[t] = 1; view.entropy_b[t] = 1; });
    samples.push({ offset: off, length: L });
    pages.push({ index: i, length: L, tokens: d.map(() => 'a'), tokenIds: d.map(() => 1), prompt: '', completion: '', arrays: view });
    off += stride * L;
  });
  return { arrays, samples, data, pages };
}

test('colour domain: one per comparison and metric, p1–p99 over all tokens (hand-computed), symmetric for Δ; a page or filter does not change it', () => {
  // 101 Δ values 0..100 split over three samples (−50..50 shifted): sorted Δ = −50, −49, …, 50
  const all = Array.from({ length: 101 }, (_, i) => i - 50);
  const { arrays, samples, data, pages } = layout([all.slice(0, 10), all.slice(10, 60), all.slice(60)]);
  const d = tokenDiffDomains(arrays, samples, data);
  // p1 of 101 sorted values: rank (101 − 1)·0.01 = 1 → −49; p99: rank 99 → 49 (Float32 of −1 + x, minus −1)
  assert.equal(d.delta.count, 101);
  assert.ok(Math.abs(d.delta.q['1'] - -49) < 1e-4, String(d.delta.q['1']));
  assert.ok(Math.abs(d.delta.q['99'] - 49) < 1e-4, String(d.delta.q['99']));
  assert.equal(d.delta.rawMin, -50); assert.equal(d.delta.rawMax, 50);
  // KL (sequential): |x|/10 → sorted by hand
  const kl = all.map((x) => Math.fround(Math.abs(x) / 10)).sort((x, y) => x - y);
  assert.ok(Math.abs(d.kl.q['5'] - quantileSorted(kl, 0.05)) < 1e-6);
  assert.ok(Math.abs(d.kl.q['95'] - quantileSorted(kl, 0.95)) < 1e-6);
  assert.equal(d.logratio, d.delta, 'the ratio is coloured by its log: the same domain');
  const whole = comparisonDomain(d, pages, 'delta', '1-99');
  assert.ok(Math.abs(whole.lo - -49) < 1e-4 && Math.abs(whole.hi - 49) < 1e-4, JSON.stringify(whole));
  // only the first sample on screen (a page, a filter): the same domain, not the page's own [−50, −41]
  assert.deepEqual(comparisonDomain(d, pages.slice(0, 1), 'delta', '1-99'), whole);
  assert.deepEqual(comparisonDomain(d, [], 'delta', '1-99'), whole);
  // skewed values: symmetric around 0 for the diverging Δ
  const sk = layout([[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -1]]);
  const dsk = comparisonDomain(tokenDiffDomains(sk.arrays, sk.samples, sk.data), [], 'delta', '0-100');
  assert.equal(dsk.lo, -10); assert.equal(dsk.hi, 10);
  // without host domains (an old host): the samples given
  const own = comparisonDomain(undefined, pages.slice(0, 1), 'delta', '0-100');
  assert.equal(own.hi, 50); assert.equal(own.lo, -50);
});

test('ratio legend reads in ratio units, centred on 1; other metrics centred on 0', () => {
  const r = legendFormat('logratio');
  assert.equal(r.title, 'ratio p_B/p_A (log scale)');
  assert.equal(r.centre, 'centred on 1');
  assert.equal(r.value(0), '1');
  assert.equal(r.value(Math.log(2)), '2');
  assert.equal(r.value(-Math.log(4)), '0.25');
  assert.equal(r.value(5), '148');
  const d = legendFormat('delta');
  assert.equal(d.centre, 'centred on 0');
  assert.equal(d.value(-5), '−5');
});

test('token cells: a byte piece shows as <0xHH> with its byte value; ∅ only for a token with no text', () => {
  const vocab = { 300: '<0xF0>', 301: '<0x9F>', 5: 'the', 7: '' };
  assert.deepEqual(tokenCell('', 301, vocab), { text: '<0x9F>', byte: 0x9f, empty: false });
  assert.deepEqual(tokenCell('<0xF0>', 300, vocab), { text: '<0xF0>', byte: 0xf0, empty: false });
  assert.deepEqual(tokenCell('😀', 300, vocab), { text: '😀', empty: false }, 'a complete character stays the character');
  assert.deepEqual(tokenCell('the', 5, vocab), { text: 'the', empty: false });
  assert.deepEqual(tokenCell('', 7, vocab), { text: '', empty: true });
  assert.deepEqual(tokenCell('', 999, vocab), { text: '', empty: true });
  assert.equal(byteLabel(0xf0), 'byte 0xF0 (240)');
});

test('one number format: significant digits, Unicode minus, exponent, "no samples", "N of M completions"', () => {
  assert.equal(fmtNum(-0.123456), '−0.123');
  assert.equal(fmtNum(12.3456), '12.3');
  assert.equal(fmtNum(-0.00001234), '−1.23e−5');
  assert.equal(fmtNum(123456), '1.23e+5');
  assert.equal(fmtNum(NaN), '—');
  assert.equal(fmtNum(-Infinity), '−∞');
  assert.equal(fmtNum(0), '0');
  assert.equal(fmtNum(-2.5, 4), '−2.5');
  assert.ok(!/-/.test([fmtNum(-3), fmtNum(-1e-9), fmtNum(-1e9)].join('')), 'no ASCII hyphen-minus');
  assert.equal(pageLabel(0, 0, 20, 1, 0), 'no samples');
  assert.equal(pageLabel(32, 1, 20, 2, 12), 'samples 21–32 of 32 · page 2/2');
  assert.equal(completionsLabel(32), '32 completions');
  assert.equal(completionsLabel(1), '1 completion');
  assert.equal(completionsLabel(32, { totalSamples: 64, groups: 4, totalGroups: 8 }), '32 of 64 completions (traces kept for 4 of 8 groups)');
  assert.equal(completionsLabel(32, { totalSamples: 32 }), '32 completions');
});

test('host overview of a comparison on a subsampled rollout step: "N of M" counts, the source in the title, domains over all tokens', async () => {
  const { writeRolloutStepFiles } = await import('../../src/runio/writer');
  const { diffCheckpoints } = await import('../../src/trainer/diffTokens');
  const { TokenDiffData } = await import('../../src/host/tokenDiff/data');
  const { readTokenDiffSummary, readTokenDiffBlock } = await import('../../src/runio/tokenDiff');
  const root = tmp();
  const run = path.join(root, 'run');
  const c1 = charCheckpoint(path.join(run, 'checkpoints', 'step_00000001'), 1, 1);
  const c2 = charCheckpoint(path.join(run, 'checkpoints', 'step_00000002'), 2, 2);
  const ids = [[9, 10, 11], [12, 13], [9, 9, 14, 15], [16]];
  const samples = ids.map((t, i) => ({ group: `g${i >> 1}`, prompt: i < 2 ? '1+2=' : '3+4=', completion: 'x', tokens: t.map(String), tokenIds: t, reward: i, length: t.length }));
  writeRolloutStepFiles(path.join(run, 'rollouts'), {
    step: 2, arrays: [], subsampled: true, totalGroups: 4, totalSamples: 8, params: { temperature: 1 },
    groups: [{ id: 'g0', prompt: '1+2=', samples: [0, 1], rewards: [0, 1], mean: 0.5, std: 0.5 }, { id: 'g1', prompt: '3+4=', samples: [2, 3], rewards: [2, 3], mean: 2.5, std: 0.5 }],
  } as never, samples as never, samples.map(() => ({})));
  const r = await diffCheckpoints(c1, c2, `${run}:2`, { minCount: 1 });
  const d = new TokenDiffData(r.dir);
  const o = d.overview();
  assert.deepEqual(o.stored, { totalSamples: 8, groups: 2, totalGroups: 4 });
  assert.equal(completionsLabel(o.counts.samples, o.stored), '4 of 8 completions (traces kept for 2 of 4 groups)');
  assert.equal(d.title(), 'Tokens: step 1 → step 2 · step 2 rollouts');
  // the domains cover every token of the comparison (10), whatever page the view shows
  const s = readTokenDiffSummary(r.dir)!;
  const all = readTokenDiffBlock(r.dir, s, 0, s.samples.length);
  let mn = Infinity, mx = -Infinity, n = 0;
  for (const x of s.samples) {
    const off = x.offset - all.offset;
    for (let t = 0; t < x.length; t++) { const dl = all.data[off + x.length + t] - all.data[off + t]; mn = Math.min(mn, dl); mx = Math.max(mx, dl); n++; }
  }
  assert.equal(n, 10);
  assert.equal(o.domains!.delta.count, 10);
  assert.ok(Math.abs(o.domains!.delta.rawMin - mn) < 1e-6 && Math.abs(o.domains!.delta.rawMax - mx) < 1e-6);
  // a JSONL comparison is titled by the file's name
  const jsonl = path.join(root, 'big.jsonl');
  fs.writeFileSync(jsonl, '{"prompt":"1+2=","completion":"3"}\n');
  const j = await diffCheckpoints(c1, c2, jsonl, { minCount: 1 });
  assert.equal(new TokenDiffData(j.dir).title(), 'Tokens: step 1 → step 2 · big.jsonl');
  assert.equal(new TokenDiffData(j.dir).overview().stored, undefined);
});
