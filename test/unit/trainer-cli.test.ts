// The rl-lens CLI as a subprocess: JSON events on stdout, SIGKILL mid-run leaves a readable, valid prefix,
// SIGTERM and a {"type":"stop"} line stop cleanly with a checkpoint, validate's exit codes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateRun } from '../../src/cli/validate';
import { listCheckpoints, readManifest, readMetrics } from '../../src/runio/reader';

const root = path.resolve(__dirname, '..', '..');
const entry = path.join(__dirname, 'trainer-cli-entry.ts');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-cli-'));
const cli = (args: string[]) => spawn(process.execPath, ['--import', 'tsx', entry, ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });

function collect(p: ChildProcess): { out: () => string; err: () => string; done: Promise<number | null> } {
  let out = '', err = '';
  p.stdout!.on('data', (d) => { out += d; });
  p.stderr!.on('data', (d) => { err += d; });
  return { out: () => out, err: () => err, done: new Promise((res) => p.on('close', (code) => res(code))) };
}

async function waitFor(pred: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('train --events stdout: every stdout line is one JSON event; progress on stderr; validate accepts the run', async () => {
  const dir = path.join(tmp(), 'run');
  const p = cli(['train', '--preset', 'tiny', '--steps', '6', '--backend', 'wasm', '--events', 'stdout', '--out', dir]);
  p.stdin!.end();
  const c = collect(p);
  assert.equal(await c.done, 0, c.err());
  const lines = c.out().trim().split('\n');
  const events = lines.map((l) => JSON.parse(l));
  assert.equal(events[0].type, 'start');
  assert.equal(events[0].backend.name, 'wasm');
  assert.equal(events[events.length - 1].type, 'end');
  assert.equal(events[events.length - 1].status, 'completed');
  assert.deepEqual(events.filter((e) => e.type === 'step').map((e) => e.step), [1, 2, 3, 4, 5, 6]);
  assert.match(c.err(), /\[rl-lens\] backend wasm/);
  assert.match(c.err(), /step 6\/6 loss/);
  const written = fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').trim().split('\n');
  assert.deepEqual(written.map((l) => JSON.parse(l)), events, 'same events on stdout and in events.jsonl');
  const v = spawnSync(process.execPath, ['--import', 'tsx', entry, 'validate', dir], { cwd: root, encoding: 'utf8' });
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /0 error\(s\)/);
  fs.writeFileSync(path.join(dir, 'manifest.json'), '{"format": "rl-lens-run"}');
  const bad = spawnSync(process.execPath, ['--import', 'tsx', entry, 'validate', dir], { cwd: root, encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /manifest\.json: formatVersion: is required/);
});

test('SIGKILL mid-run leaves a run that reads and validates (warnings only)', async () => {
  const dir = path.join(tmp(), 'killed');
  const p = cli(['train', '--preset', 'tiny', '--steps', '100000', '--backend', 'wasm', '--events', 'stdout', '--out', dir]);
  const c = collect(p);
  await waitFor(() => (c.out().match(/"type":"step"/g) ?? []).length >= 12, 60000, '12 steps');
  p.kill('SIGKILL');
  await c.done;
  const problems = validateRun(dir);
  assert.deepEqual(problems.filter((x) => x.severity !== 'warning'), [], JSON.stringify(problems, null, 1));
  assert.equal(readManifest(dir).status, 'running', 'a killed run is left as running (validate warns)');
  assert.ok(problems.some((x) => x.field === 'status'));
  assert.ok(readMetrics(dir).length >= 12);
  assert.ok(listCheckpoints(dir).length >= 1, 'the periodic checkpoint at step 10 survived');
});

test('SIGTERM: finishes the step, writes a stop checkpoint, status stopped, exit 0', async () => {
  const dir = path.join(tmp(), 'term');
  const p = cli(['train', '--preset', 'tiny', '--steps', '100000', '--backend', 'wasm', '--events', 'stdout', '--out', dir]);
  const c = collect(p);
  await waitFor(() => /"type":"step"/.test(c.out()), 60000, 'first step');
  p.kill('SIGTERM');
  assert.equal(await c.done, 0, c.err());
  const m = readManifest(dir);
  assert.equal(m.status, 'stopped');
  const stopCk = listCheckpoints(dir).filter((k) => k.name.endsWith('_stop'));
  assert.equal(stopCk.length, 1);
  assert.equal(stopCk[0].meta?.step, m.step);
  const last = JSON.parse(c.out().trim().split('\n').pop()!);
  assert.deepEqual([last.type, last.status], ['end', 'stopped']);
  assert.deepEqual(validateRun(dir).filter((x) => x.severity !== 'warning'), []);
});

test('a {"type":"stop"} line on stdin stops the run the same way', async () => {
  const dir = path.join(tmp(), 'stdin');
  const p = cli(['train', '--preset', 'tiny', '--steps', '100000', '--backend', 'wasm', '--events', 'stdout', '--out', dir]);
  const c = collect(p);
  await waitFor(() => /"type":"step"/.test(c.out()), 60000, 'first step');
  p.stdin!.write('not json\n{"type":"pause"}\n'); // reported on stderr, ignored: the run goes on
  p.stdin!.write('{"type":"stop"}\n');
  assert.equal(await c.done, 0, c.err());
  assert.equal(readManifest(dir).status, 'stopped');
  assert.match(c.err(), /ignoring stdin line: not JSON: not json/);
  assert.match(c.err(), /ignoring stdin line: unknown control message type "pause"/);
  assert.match(c.err(), /stop message received/);
});

test('bad usage and bad config: exit 2 with a message naming the problem', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', entry, 'train', '--backend', 'gpu'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--backend gpu: allowed: auto, tensorflow-gpu, tensorflow, wasm, cpu/);
  const f = path.join(tmp(), 'c.json');
  fs.writeFileSync(f, JSON.stringify({ algorithm: 'sft', train: { batchSize: 0 } }, null, 2));
  const r2 = spawnSync(process.execPath, ['--import', 'tsx', entry, 'train', '--config', f], { cwd: root, encoding: 'utf8' });
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /c\.json:4: config\.train\.batchSize: must be >= 1 \(got 0\)/);
});

test('stop during the RL warm start (SFT before GRPO): phase progress events, then a stop checkpoint and a proper end event', async () => {
  const base = tmp();
  const dir = path.join(base, 'warm');
  const cfg = path.join(base, 'warm.json');
  fs.writeFileSync(cfg, JSON.stringify({
    name: 'warm-stop', algorithm: 'grpo', seed: 1, task: { name: 'arithmetic', difficulty: 1 },
    model: { dModel: 16, nHeads: 2, nLayers: 1, contextLength: 16 }, train: { steps: 4 }, sampling: { maxNewTokens: 5 },
    eval: { every: 0, numPrompts: 4, samplesPerPrompt: 2, k: [1] }, checkpoint: { every: 0 }, rollouts: { every: 2, maxSamples: 8 },
    // a warm start far longer than the test: only a Stop ends it
    rl: { promptsPerStep: 2, groupSize: 2, warmStart: { steps: 1_000_000, batchSize: 4 } },
  }));
  const p = cli(['train', '--config', cfg, '--backend', 'wasm', '--events', 'stdout', '--out', dir]);
  const c = collect(p);
  const phases = () => c.out().split('\n').filter((l) => l.includes('"phase"')).map((l) => JSON.parse(l).phase as { name: string; done: number; total: number });
  await waitFor(() => phases().length >= 2, 90000, 'two warm-start progress events');
  const ph = phases();
  assert.equal(ph[0].name, 'warm start');
  assert.equal(ph[0].total, 1_000_000);
  assert.ok(ph[1].done > ph[0].done, 'progress advances');
  const t0 = Date.now();
  p.stdin!.write('{"type":"stop"}\n');
  assert.equal(await c.done, 0, c.err());
  assert.ok(Date.now() - t0 < 10_000, `stopped within 10 s (took ${Date.now() - t0} ms)`);
  const m = readManifest(dir);
  assert.equal(m.status, 'stopped');
  const stopCk = listCheckpoints(dir).filter((k) => k.name.endsWith('_stop'));
  assert.equal(stopCk.length, 1, 'a stop checkpoint (the warm-started policy so far)');
  const events = c.out().trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(events.filter((e) => e.type === 'step').length, 0, 'no RL step ran');
  const last = events.at(-1);
  assert.deepEqual([last.type, last.status], ['end', 'stopped']);
  assert.deepEqual(validateRun(dir).filter((x) => x.severity !== 'warning'), []);
});
