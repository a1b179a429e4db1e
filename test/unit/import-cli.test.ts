// `rl-lens import`: prints the detected format, counts and every problem as file:line: reason; exit codes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { run } from '../../src/cli/import';
import { importRun, importTargetDir } from '../../src/importers/index';
import { FIX, openRun, tmpDir } from './import-helpers';
import { captureOutput } from './capture-output';

async function capture(argv: string[]): Promise<{ code: number; out: string }> {
  const r = await captureOutput(() => run(argv));
  return { code: r.code, out: r.all };
}

test('cli import: autodetects, prints format, counts and file:line problems', async () => {
  const dir = tmpDir('cli');
  const src = path.join(dir, 'logs');
  fs.mkdirSync(src);
  const lines = fs.readFileSync(path.join(FIX, 'rllb/poem_task/rollout_data_rank0.jsonl'), 'utf8').trim().split('\n');
  lines.splice(2, 0, '{"prompt": oops}');
  fs.writeFileSync(path.join(src, 'rollout_data_rank0.jsonl'), lines.join('\n') + '\n');
  const r = await capture([src, '--out', path.join(dir, 'run')]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^detected: rllb \(/m);
  assert.match(r.out, /^counts: files=1 lines=10 samples=9 steps=3 /m);
  assert.match(r.out, /^1 problem\(s\): 1 error\(s\), 0 warning\(s\); 1 skipped \(whole lines, rows, log entries or files\), the rest kept:$/m);
  assert.ok(r.out.includes(`${path.join(src, 'rollout_data_rank0.jsonl')}:3: not valid JSON`), r.out);
  assert.equal(openRun(path.join(dir, 'run')).manifest.source?.problemCount, 1);
  // usage errors
  assert.equal((await capture([src, '--out', path.join(dir, 'run2'), '--from', 'wandb'])).code, 2);
  assert.equal((await capture([src])).code, 2);
  const again = await capture([src, '--out', path.join(dir, 'run')]);
  assert.equal(again.code, 2);
  assert.match(again.out, /already exists/);
  const unknown = await capture([dir + '/nothing-here', '--out', path.join(dir, 'run3')]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.out, /does not exist/);
});

test('import: replace only deletes a previous import of the same source; importTargetDir is stable', async () => {
  const dir = tmpDir('replace');
  const root = path.join(dir, 'imports');
  const src = path.join(FIX, 'verl/gsm8k_grpo');
  const out = importTargetDir(src, root);
  assert.equal(out, importTargetDir(src + '/', root));
  assert.match(path.basename(out), /^gsm8k_grpo-[0-9a-f]{10}$/);
  await importRun(src, { out });
  await assert.rejects(importRun(src, { out }), /already exists/);
  const r = await importRun(src, { out, replace: true });
  assert.equal(r.counts.samples, 24);
  await assert.rejects(importRun(path.join(FIX, 'rllb/poem_task'), { out, replace: true }), /not imported from/);
  assert.equal(openRun(out).manifest.source?.format, 'verl', 'the other run was left alone');
});
