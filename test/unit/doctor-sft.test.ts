// The README's default run (SFT on arithmetic, the real trainer) is healthy: the doctor must say so and exit 0.
// SFT learns from demonstrations, not from its sampled completions' rewards, so the checks whose premise is the RL
// gradient (zero-variance groups give no gradient, truncated samples inject reward noise, length drift) do not apply;
// an untrained model's first samples run to the length limit by nature.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PRESETS, deepMerge, resolveConfig } from '../../src/trainer/config';
import '../../src/trainer/plugins';
import { runTraining } from '../../src/trainer/engine';
import { run as doctorCli } from '../../src/cli/doctor';

test('doctor on the README\'s default SFT run: no problems, exit 0 (RL-gradient checks do not judge SFT)', async () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-doc-sft-')), 'run');
  const r = await runTraining(resolveConfig(deepMerge(PRESETS["sft-arithmetic-quick"](), { backend: 'wasm' })), { outDir: dir, progress: () => undefined });
  assert.equal(r.status, 'completed', r.error);
  const out: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => { out.push(String(s)); return true; }) as typeof process.stdout.write;
  let code: number;
  try { code = await doctorCli([dir]); } finally { process.stdout.write = write; }
  assert.equal(code, 0, out.join(''));
  assert.match(out.join(''), /no problems found/);
});
