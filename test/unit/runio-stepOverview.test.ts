// The step overview sidecar (issue 18, docs/run-format.md "Step overview sidecar"): the writer writes
// rollouts/step_X.overview.json next to each step; the host's StepSource answers the heatmap's overview from it without
// parsing the .jsonl and reads token texts from the recorded byte ranges; a missing or stale sidecar (size / mtime of
// the .jsonl) is rebuilt from the .jsonl, never trusted; a truncated .jsonl reads as the whole-file reader reads it.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { FILES, stepFileBase, type RolloutSample } from '../../src/shared/runFormat';
import { listRolloutSteps, readRolloutStep, readRolloutStepIndex } from '../../src/runio/reader';
import { writeRolloutStepFiles } from '../../src/runio/writer';
import { TEXT_CUT, decodeDomain, readSampleLines, readStepOverview, rebuildStepOverview, stepOverviewPath } from '../../src/runio/stepOverview';
import { metricsFor } from '../../src/webview/data/step';
import { makeRun } from '../fixtures/makeRun';
import { StepSource } from '../../src/host/ui/panels/stepSource';
import Ajv from 'ajv';
import { RUN_FORMAT_SCHEMA } from '../../src/trainer/runSchema';

const ajv = new Ajv({ allErrors: true, strict: false });
ajv.addSchema(RUN_FORMAT_SCHEMA as object, 'rf');
const validSidecar = (file: string) => { const v = ajv.getSchema('rf#/definitions/stepOverview')!; assert.ok(v(JSON.parse(fs.readFileSync(file, 'utf8'))), JSON.stringify(v.errors)); };

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-overview-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

const TOKS = ['Hé', 'llo', ' 🙂', ' wörld', '\n', ' "q"', ' \\', ' 2', ' +', ' 2'];
/** A step with multi-byte tokens, one completion longer than TEXT_CUT (with a needle past the cut), a NaN reward. */
function writeStep(dir: string, step = 3, n = 6): { rdir: string; jsonl: string; side: string } {
  const rdir = path.join(dir, FILES.rolloutsDir);
  const samples = Array.from({ length: n }, (_, i) => {
    const tokens = Array.from({ length: 5 + i * 97 }, (_, t) => TOKS[(t + i) % TOKS.length]);
    const completion = i === 2 ? 'x'.repeat(TEXT_CUT + 50) + 'NEEDLE' : tokens.join('');
    return { kind: 'sample', index: i, group: `g${i >> 1}`, prompt: `${i} + ${i} = ?`, completion, tokens, reward: i === 4 ? NaN : i % 2, advantage: i % 2 ? 0.5 : -0.5, length: tokens.length, truncated: i === 1 } as unknown as RolloutSample;
  });
  const arrays = samples.map((s) => ({ logprob: Float32Array.from({ length: s.length }, (_, t) => -t / 100), mask: new Float32Array(s.length).fill(1) }));
  writeRolloutStepFiles(rdir, { step, algorithm: 'grpo', arrays: ['logprob', 'mask'], groups: [] } as never, samples as never, arrays);
  return { rdir, jsonl: path.join(rdir, `${stepFileBase(step)}.jsonl`), side: stepOverviewPath(rdir, step) };
}

const expectedSamples = (dir: string, step: number) => readRolloutStepIndex(dir, step).samples.map((x) => {
  const o = { ...x, tokens: [] as string[] };
  if (typeof x.prompt === 'string' && x.prompt.length > TEXT_CUT) o.prompt = x.prompt.slice(0, TEXT_CUT);
  if (typeof x.completion === 'string' && x.completion.length > TEXT_CUT) o.completion = x.completion.slice(0, TEXT_CUT);
  return o;
});

test('round trip: the writer\'s sidecar equals a parse of the .jsonl; the recorded byte ranges hold each sample\'s line', () => {
  const dir = path.join(tmp, 'a');
  const { jsonl, side } = writeStep(dir);
  assert.ok(fs.existsSync(side), 'the writer writes the sidecar');
  validSidecar(side);
  const r = readStepOverview(dir, 3);
  assert.equal(r.from, 'sidecar');
  const { data, numbers, withData, domains, ...fromJsonl } = r.overview;
  assert.ok(data && numbers && withData && domains?.logprob, 'with the numbers and domains of the block');
  assert.deepEqual(fromJsonl, rebuildStepOverview(jsonl, 3));
  assert.deepEqual(r.overview.samples, expectedSamples(dir, 3));
  assert.deepEqual(r.overview.header, readRolloutStepIndex(dir, 3).header);
  assert.deepEqual(r.overview.cut, [2]);
  assert.equal(r.overview.samples[4].reward, null);
  const fd = fs.openSync(jsonl, 'r');
  try { assert.deepEqual(readSampleLines(fd, r.overview, [5, 0, 2]), [5, 0, 2].map((i) => readRolloutStepIndex(dir, 3).samples[i])); } finally { fs.closeSync(fd); }
});

test('StepSource answers from the sidecar what the whole-step reader gives: records, token texts, text filter past the cut, search', () => {
  const dir = path.join(tmp, 'b');
  writeStep(dir);
  const full = readRolloutStep(dir, 3);
  const src = new StepSource(dir, 3);
  assert.equal(src.from, 'sidecar');
  const ov = src.overview();
  assert.deepEqual(ov.samples, expectedSamples(dir, 3));
  assert.deepEqual(ov.cut, [2]);
  assert.deepEqual(ov.problems, []);
  const w = src.window([[3, 0], [5, 1], [2, 0]]);
  assert.deepEqual(w.tokens, [full.samples[3].tokens!.slice(0, 256), full.samples[5].tokens!.slice(256, 512), full.samples[2].tokens!.slice(0, 256)]);
  assert.deepEqual(src.textMatch('needle'), { samples: [2] });
  assert.deepEqual(src.textMatch('🙂 WÖR').samples, [0, 1, 3, 4, 5]);
  const hits = src.search('wörld\n').hits;
  assert.ok(hits.length > 0 && hits.length % 2 === 0);
  for (let k = 0; k < hits.length; k += 2) assert.ok([' wörld', '\n'].includes(full.samples[hits[k]].tokens![hits[k + 1]]));
  src.close();
});

test('a stale sidecar (the .jsonl rewritten, or its mtime changed) is rebuilt, never trusted; a missing one is rebuilt and written', () => {
  const dir = path.join(tmp, 'c');
  const { jsonl, side } = writeStep(dir);
  // tamper with the sidecar: trusted only while the .jsonl's size and mtime are the ones it records
  const ov = JSON.parse(fs.readFileSync(side, 'utf8'));
  ov.samples[0].reward = 999;
  fs.writeFileSync(side, JSON.stringify(ov));
  assert.equal(readStepOverview(dir, 3).overview.samples[0].reward, 999);
  const st = fs.statSync(jsonl);
  fs.utimesSync(jsonl, st.atime, new Date(st.mtimeMs + 5000));
  const r = readStepOverview(dir, 3);
  assert.equal(r.from, 'rebuilt');
  assert.equal(r.overview.samples[0].reward, 0);
  assert.equal(readStepOverview(dir, 3).from, 'sidecar', 'the rebuilt sidecar was written');
  // the step rewritten with other samples (another size): the old sidecar is not used
  fs.copyFileSync(side, path.join(tmp, 'old.json'));
  writeStep(dir, 3, 4);
  fs.copyFileSync(path.join(tmp, 'old.json'), side);
  const r2 = readStepOverview(dir, 3);
  assert.equal(r2.from, 'rebuilt');
  assert.equal(r2.overview.samples.length, 4);
  assert.equal(new StepSource(dir, 3).overview().samples.length, 4);
  // missing (older or imported runs): rebuilt from the .jsonl, then found
  fs.rmSync(side);
  assert.equal(readStepOverview(dir, 3).from, 'rebuilt');
  assert.ok(fs.existsSync(side));
  assert.equal(readStepOverview(dir, 3).from, 'sidecar');
  // not JSON, or another version: rebuilt
  fs.writeFileSync(side, '{"kind":"stepOverview"');
  assert.equal(readStepOverview(dir, 3).from, 'rebuilt');
  fs.writeFileSync(side, JSON.stringify({ ...readStepOverview(dir, 3).overview, version: 2 }));
  assert.equal(readStepOverview(dir, 3).from, 'rebuilt');
});

test('a truncated .jsonl reads as the whole-file reader reads it: the torn sample left out and reported', () => {
  const dir = path.join(tmp, 'd');
  const { jsonl } = writeStep(dir);
  const size = fs.statSync(jsonl).size;
  fs.truncateSync(jsonl, size - 40);
  const whole = readRolloutStepIndex(dir, 3);
  const src = new StepSource(dir, 3);
  assert.equal(src.from, 'rebuilt');
  const ov = src.overview();
  assert.equal(ov.samples.length, 5);
  assert.deepEqual(ov.samples, expectedSamples(dir, 3));
  assert.deepEqual(ov.problems.filter((p) => /torn last line/.test(p)), whole.problems.map((p) => `${path.basename(p.file)}:${p.line}: ${p.message}`));
  assert.deepEqual(src.window([[4, 0]]).tokens, [whole.samples[4].tokens!.slice(0, 256)]);
});

test('a .jsonl changed under an open StepSource: token reads fail loudly instead of returning another sample\'s texts', () => {
  const dir = path.join(tmp, 'e');
  const { jsonl } = writeStep(dir);
  const src = new StepSource(dir, 3);
  src.overview();
  const lines = fs.readFileSync(jsonl, 'utf8').split('\n');
  [lines[2], lines[3]] = [lines[3], lines[2]];
  fs.writeFileSync(jsonl, lines.join('\n'));
  assert.throws(() => src.window([[1, 0]]), /not where the step's overview says/);
});

test('a .jsonl whose first line is not the header: the same error as the whole-step reader', () => {
  const dir = path.join(tmp, 'f');
  const { jsonl, side } = writeStep(dir);
  fs.rmSync(side);
  fs.writeFileSync(jsonl, fs.readFileSync(jsonl, 'utf8').split('\n').slice(1).join('\n'));
  assert.throws(() => readRolloutStepIndex(dir, 3), /first line must be the step header/);
  assert.throws(() => new StepSource(dir, 3), /first line must be the step header/);
});

test('the writer\'s numbers (from the block it holds) equal the host\'s pass over the .f32; a changed .f32 is not trusted', () => {
  const dir = path.join(tmp, 'g');
  const rdir = path.join(dir, FILES.rolloutsDir);
  const L = 50;
  const samples = Array.from({ length: 5 }, (_, i) => ({ kind: 'sample', index: i, group: 'g0', prompt: 'p', completion: 'c', tokens: Array(L).fill('a'), reward: i % 2, length: L, ...(i === 3 ? { advantage: NaN } : { advantage: i - 2 }) }));
  const arrays = samples.map((_, i) => ({
    advantage: new Float32Array(L).fill(i - 2), kl: Float32Array.from({ length: L }, (_, t) => (t * (i + 1)) / 1000),
    clip: Float32Array.from({ length: L }, (_, t) => (t + i) % 4), mask: Float32Array.from({ length: L }, (_, t) => (t < L - i * 3 ? 1 : 0)),
    ...(i === 4 ? { ratio: new Float32Array(L).fill(1) } : {}),
  }));
  writeRolloutStepFiles(rdir, { step: 7, algorithm: 'grpo', arrays: ['advantage', 'kl', 'clip', 'entropy', 'ratio', 'mask'], groups: [] } as never, samples as never, arrays);
  const side = stepOverviewPath(rdir, 7);
  const written = JSON.parse(fs.readFileSync(side, 'utf8'));
  assert.ok(Array.isArray(written.numbers) && written.data, 'the writer stores the numbers');
  validSidecar(side);
  const a = new StepSource(dir, 7);
  const oa = a.overview();
  assert.equal(a.floatsRead, 0, 'the first answer reads nothing of the .f32');
  assert.deepEqual(oa.withData, ['advantage', 'kl', 'clip', 'ratio', 'mask']);
  // the same sidecar without them (a rebuilt one): the host's pass gives the same numbers, and stores them
  delete written.numbers; delete written.withData; delete written.data;
  fs.writeFileSync(side, JSON.stringify(written));
  const b = new StepSource(dir, 7);
  const ob = b.overview();
  assert.ok(b.floatsRead > 0);
  assert.deepEqual(ob.numbers, oa.numbers);
  assert.deepEqual(ob.withData, oa.withData);
  assert.ok(Number.isNaN(ob.numbers[3][0]) || typeof ob.numbers[3][0] === 'number');
  const c = new StepSource(dir, 7);
  assert.deepEqual(c.overview().numbers, oa.numbers);
  assert.equal(c.floatsRead, 0, 'the host stored the numbers in the sidecar');
  validSidecar(side);
  // the .f32 rewritten (kl doubled; same size, another mtime): the stored numbers are not used
  const f32 = path.join(rdir, `${stepFileBase(7)}.f32`);
  const buf = fs.readFileSync(f32);
  const fl = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  for (let i = 0; i < 5; i++) for (let t = 0; t < L; t++) fl[i * 6 * L + L + t] *= 2;
  fs.writeFileSync(f32, buf);
  const st = fs.statSync(f32);
  fs.utimesSync(f32, st.atime, new Date(st.mtimeMs + 5000));
  const d = new StepSource(dir, 7);
  const od = d.overview();
  assert.ok(d.floatsRead > 0);
  od.numbers.forEach((r, i) => assert.ok(Math.abs(r[1] - 2 * oa.numbers[i][1]) < 1e-9));
});

// Step-wide colour domains in the sidecar (issue 18: the heatmap's first paint of a 1,024 × 4,096-token step): the
// writer stores each offered metric's domain; the host answers rollout/domain (no group) from it while the .f32 is the
// one it was made from, else computes it and adds it to the sidecar.
const sidecarOf = (dir: string, step: number) => JSON.parse(fs.readFileSync(stepOverviewPath(path.join(dir, FILES.rolloutsDir), step), 'utf8'));
const writeSidecar = (dir: string, step: number, ov: unknown) => fs.writeFileSync(stepOverviewPath(path.join(dir, FILES.rolloutsDir), step), JSON.stringify(ov));
/** The host's domain of a metric computed from the .f32 (a source whose sidecar holds no domains), the sidecar restored. */
function computedDomains(dir: string, step: number, metrics: string[]): Record<string, unknown> {
  const side = stepOverviewPath(path.join(dir, FILES.rolloutsDir), step);
  const keep = fs.readFileSync(side);
  const { domains: _d, ...rest } = JSON.parse(keep.toString('utf8'));
  writeSidecar(dir, step, rest);
  const src = new StepSource(dir, step);
  const out = Object.fromEntries(metrics.map((m) => [m, src.domain(m)]));
  assert.ok(src.floatsRead > 0, 'computed from the .f32');
  fs.writeFileSync(side, keep);
  return out;
}

/** A step whose metrics include a derived one, one with no valid token (count 0: NaN in memory, null in JSON) and a
 *  −0 minimum (JSON writes −0 as 0). */
function writeDomainStep(dir: string, step = 5): string {
  const rdir = path.join(dir, FILES.rolloutsDir);
  const n = 6, L = 40;
  const samples = Array.from({ length: n }, (_, i) => ({ kind: 'sample', index: i, group: `g${i >> 1}`, prompt: 'p', completion: 'c', tokens: Array(L).fill('a'), reward: i % 2, advantage: i - 2.5, length: L }));
  const arrays = samples.map((_, i) => ({
    logprob: Float32Array.from({ length: L }, (_, t) => -((t * 7 + i * 13) % 29) / 7), ref_logprob: Float32Array.from({ length: L }, (_, t) => -((t * 5 + i) % 31) / 9),
    advantage: new Float32Array(L).fill(i - 2.5), clip: Float32Array.from({ length: L }, (_, t) => (t + i) % 4),
    entropy: Float32Array.from({ length: L }, (_, t) => (t === 0 ? -0 : t % 3 === 0 ? 0 : t / 10)),
    // finite only on masked tokens: offered (it holds data) but no valid value
    seq_kl: Float32Array.from({ length: L }, (_, t) => (t >= L - 3 ? 0.5 : NaN)),
    mask: Float32Array.from({ length: L }, (_, t) => (t < L - 3 ? 1 : 0)),
  }));
  writeRolloutStepFiles(rdir, { step, algorithm: 'grpo', arrays: ['logprob', 'ref_logprob', 'advantage', 'clip', 'entropy', 'seq_kl', 'mask'], groups: [] } as never, samples as never, arrays);
  return dir;
}

test('the writer\'s step-wide domains are the host\'s domain(), bit for bit, for every metric the step offers (GRPO, PPO, DPO, NaN and −0 edge cases)', () => {
  const runs = [
    makeRun({ dir: path.join(tmp, 'dom-grpo'), algorithm: 'grpo', steps: 2, rolloutEvery: 1, groups: 3, groupSize: 4, maxLen: 300, seed: 31 }),
    makeRun({ dir: path.join(tmp, 'dom-ppo'), algorithm: 'ppo', steps: 1, rolloutEvery: 1, groups: 2, groupSize: 3, seed: 32 }),
    makeRun({ dir: path.join(tmp, 'dom-dpo'), algorithm: 'dpo', steps: 1, rolloutEvery: 1, seed: 33 }),
    writeDomainStep(path.join(tmp, 'dom-edge')),
  ];
  let checked = 0;
  for (const dir of runs) {
    for (const step of listRolloutSteps(dir)) {
      const ov = sidecarOf(dir, step);
      if (!ov.data) continue; // a summary step: no block
      validSidecar(stepOverviewPath(path.join(dir, FILES.rolloutsDir), step));
      const metrics = metricsFor(ov.withData).filter((m) => !m.categorical).map((m) => m.id);
      assert.ok(metrics.length > 0);
      assert.deepEqual(Object.keys(ov.domains).sort(), [...metrics].sort(), `${dir} step ${step}: one domain per offered metric`);
      const want = computedDomains(dir, step, metrics);
      const src = new StepSource(dir, step);
      for (const m of metrics) {
        assert.deepEqual(src.domain(m), want[m], `${dir} step ${step} ${m}`); // strict: NaN is NaN, −0 is not 0
        const { metric: _m, ...stats } = want[m] as { metric: string };
        assert.deepEqual(decodeDomain(ov.domains[m]), stats, `${dir} step ${step} ${m}: the stored numbers`);
        checked++;
      }
      assert.equal(src.floatsRead, 0, 'answered from the sidecar: nothing read of the .f32');
    }
  }
  assert.ok(checked > 20);
  // the edge cases really are in there
  const edge = sidecarOf(runs[3], 5);
  assert.equal(edge.domains.seq_kl.count, 0);
  assert.equal(edge.domains.seq_kl.rawMin, null);
  assert.equal(edge.domains.entropy.rawMin, '-0');
  const e = new StepSource(runs[3], 5);
  assert.ok(Number.isNaN(e.domain('seq_kl').rawMin) && Object.is(e.domain('entropy').rawMin, -0));
  assert.ok(e.domain('logprob_minus_ref').count > 0);
});

test('a changed .f32 (mtime or size) makes the host ignore the stored domains; the recomputed one replaces them', () => {
  const dir = writeDomainStep(path.join(tmp, 'dom-stale'));
  const rdir = path.join(dir, FILES.rolloutsDir);
  const f32 = path.join(rdir, `${stepFileBase(5)}.f32`);
  const truth = computedDomains(dir, 5, ['logprob', 'advantage']);
  // tampered, stamp intact: the host believes the sidecar (so the next checks see when it does not)
  const ov = sidecarOf(dir, 5);
  ov.domains.logprob = { ...ov.domains.logprob, count: 12345 };
  ov.domains.advantage = { ...ov.domains.advantage, count: 54321 };
  writeSidecar(dir, 5, ov);
  assert.equal(new StepSource(dir, 5).domain('logprob').count, 12345);
  // same bytes, another mtime
  const st = fs.statSync(f32);
  fs.utimesSync(f32, st.atime, new Date(st.mtimeMs + 5000));
  const a = new StepSource(dir, 5);
  assert.deepEqual(a.domain('logprob'), truth.logprob);
  assert.ok(a.floatsRead > 0);
  // written back stamped with the .f32 as it is now; the other stale domain is dropped, not re-stamped
  const after = sidecarOf(dir, 5);
  assert.equal(after.data.mtimeMs, fs.statSync(f32).mtimeMs);
  assert.equal(after.domains.logprob.count, (truth.logprob as { count: number }).count);
  assert.equal(after.domains.advantage, undefined);
  // another size (bytes appended, mtime then put back): not trusted either
  after.domains.logprob.count = 777;
  writeSidecar(dir, 5, after);
  assert.equal(new StepSource(dir, 5).domain('logprob').count, 777);
  const st2 = fs.statSync(f32);
  fs.appendFileSync(f32, Buffer.alloc(8));
  fs.utimesSync(f32, st2.atime, st2.mtime);
  assert.equal(fs.statSync(f32).mtimeMs, st2.mtimeMs);
  const b = new StepSource(dir, 5);
  assert.equal(b.domain('logprob').count, (truth.logprob as { count: number }).count);
  assert.ok(b.floatsRead > 0);
});

test('a sidecar without domains (older writer) works and gets them written back; a group\'s domain is not stored', () => {
  const dir = writeDomainStep(path.join(tmp, 'dom-old'));
  const full = sidecarOf(dir, 5);
  const { domains, ...old } = full;
  writeSidecar(dir, 5, old);
  validSidecar(stepOverviewPath(path.join(dir, FILES.rolloutsDir), 5));
  const a = new StepSource(dir, 5);
  assert.equal(a.from, 'sidecar', 'an old sidecar is still used');
  const ova = a.overview();
  assert.equal(a.floatsRead, 0, 'its numbers too');
  const d = a.domain('logprob_minus_ref');
  assert.ok(a.floatsRead > 0, 'computed');
  a.domain('advantage', 'g1');
  const back = sidecarOf(dir, 5);
  assert.deepEqual(Object.keys(back.domains), ['logprob_minus_ref'], 'the step-wide domain written back, not the group one');
  assert.deepEqual(back.domains.logprob_minus_ref, domains.logprob_minus_ref, 'the same as the writer\'s');
  assert.deepEqual(back.numbers, full.numbers, 'the numbers kept');
  validSidecar(stepOverviewPath(path.join(dir, FILES.rolloutsDir), 5));
  const b = new StepSource(dir, 5);
  assert.deepEqual(b.overview().numbers, ova.numbers);
  assert.deepEqual(b.domain('logprob_minus_ref'), d);
  assert.equal(b.floatsRead, 0, 'a reopened step reads nothing of the .f32');
  b.domain('entropy');
  assert.deepEqual(Object.keys(sidecarOf(dir, 5).domains).sort(), ['entropy', 'logprob_minus_ref']);
  // a sidecar rebuilt from the .jsonl (no numbers, no stamp), the domain asked first (the page asks for it alongside the
  // overview): the domain and the numbers both kept, under one stamp
  fs.rmSync(stepOverviewPath(path.join(dir, FILES.rolloutsDir), 5));
  const c = new StepSource(dir, 5);
  assert.equal(c.from, 'rebuilt');
  c.domain('advantage'); c.overview();
  const rebuilt = sidecarOf(dir, 5);
  assert.deepEqual(rebuilt.numbers, full.numbers);
  assert.deepEqual(rebuilt.domains, { advantage: domains.advantage });
  const e = new StepSource(dir, 5);
  e.overview(); e.domain('advantage');
  assert.equal(e.floatsRead, 0);
});
