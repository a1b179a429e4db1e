// Tensor statistics and pass@k of checkpoint reports (src/trainer/report/stats.ts, shared/passAtK.ts, src/report/render.ts kValues).
// Expected values computed independently with numpy / math.comb (python3), see the comments; tolerance 1e-6 relative.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readSafetensorsViews, relativeChange, tensorStats, tensorTable } from '../../src/trainer/report/stats';
import { encodeSafetensors } from '../../src/trainer/checkpoint';
import { passAtK } from '../../src/shared/passAtK';
import { kValues } from '../../src/report/render';

const close = (a: number, b: number, tol = 1e-6) => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} ≠ ${b} (tol ${tol})`);

test('tensorStats: L2, mean, population std, max|x| (numpy: norm 3.774917217635375, mean 0.625, std 1.7809758560968758, max 3), fused relative change', () => {
  close(tensorStats(new Float32Array([1, 2, 2]), new Float32Array([1, 2, 0])).relChange!, 0.8944271909999159);
  assert.equal(tensorStats(new Float32Array([1, 2]), new Float32Array([0, 0])).relChange, null);
  const s = tensorStats(new Float32Array([1, -2, 3, 0.5]));
  close(s.l2, 3.774917217635375);
  close(s.mean, 0.625);
  close(s.std, 1.7809758560968758);
  assert.equal(s.maxAbs, 3);
  assert.deepEqual(tensorStats(new Float32Array([])), { l2: 0, mean: 0, std: 0, maxAbs: 0 });
});

test('std has no cancellation for a large offset (1e4 + ±1: std exactly 1)', () => {
  const x = new Float32Array(1000).map((_, i) => 10000 + (i % 2 ? 1 : -1));
  close(tensorStats(x).std, 1, 1e-9);
});

test('relativeChange ‖a−b‖/‖b‖ (numpy: 0.8944271909999159), zero base → null, shape mismatch → null', () => {
  close(relativeChange(new Float32Array([1, 2, 2]), new Float32Array([1, 2, 0]))!, 0.8944271909999159);
  assert.equal(relativeChange(new Float32Array([1]), new Float32Array([0])), null);
  assert.equal(relativeChange(new Float32Array([1, 2]), new Float32Array([1])), null);
});

test('safetensors views round trip and tensorTable against a base (missing tensor → null change)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-report-st-'));
  const a = path.join(dir, 'a.safetensors'), b = path.join(dir, 'b.safetensors');
  fs.writeFileSync(a, encodeSafetensors({ w: { shape: [2, 2], data: new Float32Array([1, -2, 3, 0.5]) }, v: { shape: [3], data: new Float32Array([1, 2, 2]) }, only_a: { shape: [1], data: new Float32Array([7]) } }));
  fs.writeFileSync(b, encodeSafetensors({ w: { shape: [2, 2], data: new Float32Array([1, -2, 3, 0.5]) }, v: { shape: [3], data: new Float32Array([1, 2, 0]) } }));
  const va = readSafetensorsViews(a);
  assert.deepEqual(va.map((v) => v.name), ['w', 'v', 'only_a'], 'data order');
  assert.deepEqual([...va[0].data], [1, -2, 3, 0.5]);
  const rows = tensorTable(va, readSafetensorsViews(b));
  assert.equal(rows[0].relChange, 0);
  close(rows[1].relChange!, 0.8944271909999159);
  assert.equal(rows[2].relChange, null);
  assert.deepEqual(rows[0].shape, [2, 2]);
  assert.equal(rows[0].params, 4);
  assert.equal(tensorTable(va)[0].relChange, undefined, 'no base → no change column');
  fs.writeFileSync(path.join(dir, 'bad.safetensors'), Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0x7b]));
  assert.throws(() => readSafetensorsViews(path.join(dir, 'bad.safetensors')), /bad\.safetensors: header is not valid JSON/);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('pass@k unbiased estimator 1 − C(n−c,k)/C(n,k) (math.comb: (5,2,1) 0.4, (5,2,2) 0.7, (5,2,4) 1, (16,3,4) 0.6071428571428572, (16,0,16) 0)', () => {
  close(passAtK(5, 2, 1), 0.4);
  close(passAtK(5, 2, 2), 0.7);
  close(passAtK(5, 2, 4), 1);
  close(passAtK(16, 3, 4), 0.6071428571428572);
  close(passAtK(16, 0, 16), 0);
  close(passAtK(16, 1, 16), 1);
});

test('kValues: 1, 2, 4, … n (n appended when not a power of two)', () => {
  assert.deepEqual(kValues(16), [1, 2, 4, 8, 16]);
  assert.deepEqual(kValues(6), [1, 2, 4, 6]);
  assert.deepEqual(kValues(1), [1]);
});
