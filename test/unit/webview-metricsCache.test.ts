// The dashboard's columns cache in the run folder (issue 18, src/runio/metricsCache.ts): the first open
// writes .rl-lens/metrics-columns.bin, a later open reads it (and only the lines appended since), and every open gives
// the same series as building them from metrics.jsonl / eval.jsonl; a rewritten metrics file invalidates the cache.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunFollower, metricsColumns } from '../../src/host/ui/panels/dataProvider';
import { METRICS_CACHE_FILE, readMetricsCache } from '../../src/runio/metricsCache';
import type { MetricsColumnsPayload } from '../../src/shared/protocol';
import { makeRun } from '../fixtures/makeRun';

/** series name → [steps, values] (the columns decoded; step sharing between series is an encoding detail) */
function decode(p: MetricsColumnsPayload): Record<string, [number[], number[]]> {
  const steps = new Float64Array(p.steps as ArrayBuffer), values = new Float64Array(p.values as ArrayBuffer);
  const out: Record<string, [number[], number[]]> = {};
  const own: number[][] = [];
  let a = 0, b = 0;
  p.names.forEach((n, k) => {
    const len = p.lengths[k];
    const st = p.stepsOf[k] >= 0 ? own[p.stepsOf[k]] : Array.from(steps.subarray(a, a + len));
    if (p.stepsOf[k] < 0) a += len;
    own[k] = st;
    out[n] = [st, Array.from(values.subarray(b, b + len)).map((v) => (Number.isNaN(v) ? -999 : v))];
    b += len;
  });
  return out;
}

function same(got: MetricsColumnsPayload, dir: string, what: string): void {
  const want = metricsColumns(new RunFollower(dir).initial());
  assert.deepEqual(decode(got), decode(want), what);
  assert.deepEqual(Array.from(new Float64Array(got.clock as ArrayBuffer)), Array.from(new Float64Array(want.clock as ArrayBuffer)), `${what}: clock`);
  assert.equal(got.appended, want.appended, `${what}: appended`);
  assert.deepEqual(got.rolloutSteps, want.rolloutSteps);
}

test('metrics columns cache: written on first open, read on the next, appended lines added, a rewrite invalidates it', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-mcache-'));
  try {
    const dir = makeRun({ dir: path.join(tmp, 'r'), algorithm: 'grpo', steps: 30, status: 'running', noRollouts: true });
    const cache = path.join(dir, METRICS_CACHE_FILE);
    assert.ok(!fs.existsSync(cache));
    same(new RunFollower(dir).initialColumns(), dir, 'first open');
    assert.ok(fs.existsSync(cache), 'first open wrote the cache');
    const c = readMetricsCache(dir);
    assert.ok(c, 'cache readable');
    assert.equal(c.metrics.offset, fs.statSync(path.join(dir, 'metrics.jsonl')).size);
    same(new RunFollower(dir).initialColumns(), dir, 'open from the cache');
    // a live run appends: the cache still applies (read from its offset); the result has the new record
    const metrics = path.join(dir, 'metrics.jsonl');
    fs.appendFileSync(metrics, JSON.stringify({ step: 1000, time: 1e9, values: { loss: 0.125, brandNew: 7 } }) + '\n');
    const f = new RunFollower(dir);
    const got = f.initialColumns();
    same(got, dir, 'cache + appended line');
    assert.deepEqual(decode(got).brandNew, [[1000], [7]]);
    assert.deepEqual(f.poll().records, [], 'the follower continues after the appended line');
    fs.appendFileSync(metrics, JSON.stringify({ step: 1001, values: { loss: 0.5 } }) + '\n');
    assert.deepEqual(f.poll().records.map((r) => r.step), [1001], 'then streams new lines');
    // rewritten (not appended to): the bytes before the cached offset differ → the cache is ignored
    const text = fs.readFileSync(metrics, 'utf8').replace(/"loss\/policy":[^,}]+/g, '"loss/policy":42');
    fs.writeFileSync(metrics, text);
    assert.equal(readMetricsCache(dir), undefined, 'stale cache refused');
    const re = new RunFollower(dir).initialColumns();
    same(re, dir, 'after a rewrite');
    assert.ok(decode(re)['loss/policy'][1].every((v) => v === 42));
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});

test('the run writer keeps the cache as it goes: written every few MB of lines and when the run ends; a killed writer leaves a cache the host completes', async () => {
  const { RunWriter } = await import('../../src/runio/writer');
  const { WRITER_FLUSH_BYTES } = await import('../../src/runio/metricsCache');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-mcache-w-'));
  try {
    const dir = path.join(tmp, 'r');
    const w = RunWriter.create(dir, { id: 'r', name: 'r', algorithm: 'grpo', task: 'arithmetic', config: { algorithm: 'grpo' }, seed: 1, totalSteps: 0, backend: { name: 'cpu', requested: 'auto' }, model: { parameters: 1 } } as never);
    const cache = path.join(dir, METRICS_CACHE_FILE), metrics = path.join(dir, 'metrics.jsonl');
    // records the host must read as it reads the file: NaN written as null (skipped), eval-split names prefixed, evals
    const pad = 'x'.repeat(1200);
    let s = 0;
    const record = () => { s++; w.metrics({ step: s, time: s * 0.5, values: { 'reward/mean': s / 7, kl: s % 50 === 0 ? NaN : 1 / s, [`note_${s % 3}`]: 1, ...(s % 1000 === 0 ? { pad: pad.length } : {}) }, ...(s % 97 === 0 ? { split: 'eval' } : {}), extra: pad } as never); };
    while (fs.statSync(metrics).size < 1 << 20) record();
    assert.ok(!fs.existsSync(cache), 'no cache before a few MB of lines');
    while (!fs.existsSync(cache)) { record(); if (s % 10 === 0) w.evalRecord({ step: s, time: s * 0.5, passAtK: { 1: (s % 5) / 5, 4: 1 } } as never); }
    const size = fs.statSync(metrics).size;
    const both = size + fs.statSync(path.join(dir, 'eval.jsonl')).size;
    assert.ok(both >= WRITER_FLUSH_BYTES && both < WRITER_FLUSH_BYTES + (8 << 10), `the first cache came after ${both} bytes of metrics and eval lines`);
    const c = readMetricsCache(dir);
    assert.ok(c, 'the writer\'s cache is valid for the files as they are');
    assert.equal(c.metrics.offset, size, 'it covers every line written');
    same(new RunFollower(dir).initialColumns(), dir, 'open from the writer\'s cache');
    // killed mid-run: lines after the last write are read from the cache's offsets by the host
    for (let k = 0; k < 50; k++) record();
    assert.equal(readMetricsCache(dir)!.metrics.offset, size, 'not rewritten for a few lines');
    same(new RunFollower(dir).initialColumns(), dir, 'writer\'s cache + lines after it');
    // the end of the run writes it whole
    w.updateManifest({ status: 'completed' });
    assert.equal(readMetricsCache(dir)!.metrics.offset, fs.statSync(metrics).size, 'the ended run\'s cache covers every line');
    same(new RunFollower(dir).initialColumns(), dir, 'ended run');
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});
