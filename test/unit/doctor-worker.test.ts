// The doctor's worker thread (src/host/doctor/worker.ts, what the extension host runs the doctor in): an ended run
// keeps only its findings and its files' signature (not its metrics and step summaries), and is read again when its
// files or the thresholds change; a live run is read incrementally.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { synthRun, writeSynthRun, appendSynth } from './doctor-synth';

function ask(w: Worker, id: number, dir: string, thresholds: Record<string, unknown> = {}): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const on = (m: { id: number; findings?: { id: string }[]; error?: string }) => {
      if (m.id !== id) return;
      w.off('message', on);
      if (m.error) reject(new Error(m.error)); else resolve(m.findings!.map((f) => f.id).sort());
    };
    w.on('message', on);
    w.postMessage({ id, dir, thresholds });
  });
}

test('doctor worker: an ended run answered from its findings until its files change; a live run followed', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-dworker-'));
  // the worker's TypeScript source, loaded through tsx's CommonJS hook (the extension runs the bundle, dist/doctor-worker.js)
  const w = new Worker(`require('tsx/cjs'); require(${JSON.stringify(path.resolve('src/host/doctor/worker.ts'))});`, { eval: true });
  try {
    const dir = path.join(tmp, 'run');
    writeSynthRun(dir, synthRun(3, 'healthy', { groups: 6, rolloutEvery: 5, steps: 150 })).updateManifest({ status: 'completed' });
    const healthy = await ask(w, 1, dir);
    assert.ok(!healthy.includes('entropy/collapse'), `healthy: ${healthy}`);
    assert.deepEqual(await ask(w, 2, dir), healthy, 'asked again: the same');
    // the folder rewritten with another run (ended too): read again from the start
    fs.rmSync(dir, { recursive: true });
    writeSynthRun(dir, synthRun(3, 'entropy-collapse', { groups: 6, rolloutEvery: 5, steps: 150 })).updateManifest({ status: 'completed' });
    const collapsed = await ask(w, 3, dir);
    assert.ok(collapsed.includes('entropy/collapse'), `rewritten run: ${collapsed}`);
    // other thresholds: computed again (an entropy floor no run reaches: no collapse finding)
    const lax = await ask(w, 4, dir, { entropy: { warnRatio: 1e-9, errorRatio: 1e-10, fastDropRatio: 0.999999 } });
    assert.ok(!lax.includes('entropy/collapse') && lax.length < collapsed.length, `thresholds changed the findings: ${lax} vs ${collapsed}`);
    // a live run: read as it grows
    const live = path.join(tmp, 'live');
    const run = synthRun(3, 'entropy-collapse', { groups: 6, rolloutEvery: 5, steps: 150 });
    const lw = writeSynthRun(live, run, { upToStep: 10 });
    const early = await ask(w, 5, live);
    assert.ok(!early.includes('entropy/collapse'), `early: ${early}`);
    appendSynth(lw, run, 11, Infinity);
    assert.ok((await ask(w, 6, live)).includes('entropy/collapse'), 'the live run\'s new lines were read');
  } finally { await w.terminate(); fs.rmSync(tmp, { recursive: true, force: true }); }
});
