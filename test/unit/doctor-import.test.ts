// The doctor on imported runs: a verl file-logger metrics log (verl metric names, `{"step", "data"}` lines) showing an
// entropy collapse and a KL blow-up is converted by the real importer (src/importers) and diagnosed; the stored verl
// GSM8K fixture (real verl dump format) is diagnosed without errors (missing metrics = skipped checks).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { importRun } from '../../src/importers';
import { diagnose } from '../../src/doctor';
import { loadDoctorInput } from '../../src/doctor/load';
import { synthRun } from './doctor-synth';

function tmp(): string { return fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-doctor-imp-')); }

test('verl metrics log with verl names → import → entropy collapse and KL blow-up found', async () => {
  const src = path.join(tmp(), 'verl', 'proj');
  fs.mkdirSync(src, { recursive: true });
  const a = synthRun(21, 'entropy-collapse', { names: 'verl', rolloutEvery: 0, evalEvery: 0 });
  const b = synthRun(21, 'kl-blowup', { names: 'verl', rolloutEvery: 0, evalEvery: 0 });
  const lines = a.metrics.map((m, i) => JSON.stringify({ step: m.step + 1, data: { ...m.values, 'actor/kl_loss': b.metrics[i].values['actor/kl_loss'] } }));
  fs.writeFileSync(path.join(src, 'exp.jsonl'), lines.join('\n') + '\n');
  const out = path.join(tmp(), 'run');
  const r = await importRun(path.dirname(src), { from: 'verl', out });
  assert.equal(r.format, 'verl');
  const { input } = loadDoctorInput(out);
  const fs2 = diagnose(input);
  assert.ok(fs2.some((f) => f.id === 'entropy/collapse'), fs2.map((f) => f.id).join(', ') + ' / metrics: ' + Object.keys(input.metrics).join(','));
  assert.ok(fs2.some((f) => f.id === 'kl/blowup'), fs2.map((f) => f.id).join(', '));
});

test('stored verl GSM8K fixture: imports and diagnoses without failures', async () => {
  const out = path.join(tmp(), 'gsm8k');
  await importRun(path.join(__dirname, '../fixtures/importers/verl/gsm8k_grpo'), { from: 'verl', out });
  const { input } = loadDoctorInput(out);
  const f = diagnose(input);
  assert.ok(!f.some((x) => x.id.endsWith('/failed')), f.map((x) => x.id).join(', '));
  assert.ok(Object.keys(input.metrics).length > 0);
});
