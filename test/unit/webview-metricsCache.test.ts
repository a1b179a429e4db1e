// The dashboard's columns cache in the run folder (issue 18, src/host/ui/panels/metricsCache.ts): the first open
// writes .rl-lens/metrics-columns.bin, a later open reads it (and only the lines appended since), and every open gives
// the same series as building them from metrics.jsonl / eval.jsonl; a rewritten metrics file invalidates the cache.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunFollower, metricsColumns } from '../../src/host/ui/panels/dataProvider';
import { METRICS_CACHE_FILE, readMetricsCache } from '../../src/host/ui/panels/metricsCache';
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
