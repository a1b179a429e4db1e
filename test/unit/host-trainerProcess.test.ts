import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TrainerProcess, buildTrainerArgs, markRunEnded, stripJsonComments, type TrainerLaunch } from '../../src/host/trainerProcess';
import type { TrainerEvent } from '../../src/shared/runFormat';
import { encodeControlMessage, parseControlMessage, type ControlMessage } from '../../src/shared/control';
import { readManifest } from '../../src/runio/reader';

const FAKE = path.resolve(__dirname, '../fixtures/fake-trainer.js');

function setup(fake: Record<string, unknown>): TrainerLaunch {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-sup-'));
  const cfg = path.join(root, 'cfg.jsonc');
  fs.writeFileSync(cfg, `// comment\n${JSON.stringify({ algorithm: 'grpo', task: 'arithmetic', fake })}\n`);
  return { nodePath: process.execPath, cliPath: FAKE, configPath: cfg, runDir: path.join(root, 'runs', 'r1'), trusted: true, killAfterMs: 1500 };
}

function runIt(l: TrainerLaunch, onEvent?: (e: TrainerEvent, p: TrainerProcess) => void) {
  const events: TrainerEvent[] = [];
  let stderr = '';
  let garbage = 0;
  const p: TrainerProcess = new TrainerProcess(l, {
    onEvent: (e) => { events.push(e); onEvent?.(e, p); },
    onStderr: (s) => { stderr += s; },
    onGarbage: () => { garbage++; },
  });
  p.start();
  return { p, events, get stderr() { return stderr; }, get garbage() { return garbage; } };
}

test('args: train --config --out --events stdout, backend only when not auto', () => {
  const l = { nodePath: 'n', cliPath: 'cli.js', configPath: 'c.json', runDir: '/r', trusted: false } as TrainerLaunch;
  assert.deepEqual(buildTrainerArgs({ ...l, backend: 'wasm' }).slice(-3), ['--backend', 'wasm', '--untrusted']);
  assert.deepEqual(buildTrainerArgs({ ...l, trusted: true }), ['cli.js', 'train', '--config', 'c.json', '--out', '/r', '--events', 'stdout']);
});

test('a run completes: events arrive in order, stderr is kept, cwd is the run folder, trust flag passed', async () => {
  const l = setup({ steps: 4, delayMs: 10, garbage: true, splitWrites: true });
  l.trusted = false;
  const r = runIt(l);
  const x = await r.p.whenExited();
  assert.equal(x.status, 'completed');
  assert.equal(x.crashed, false);
  assert.equal(x.markedByHost, false);
  const types = r.events.map((e) => e.type);
  assert.equal(types[0], 'start');
  assert.equal(types.at(-1), 'end');
  assert.deepEqual(r.events.filter((e) => e.type === 'step').map((e) => (e as { step: number }).step), [1, 2, 3, 4]);
  assert.equal(r.garbage, 2, 'two non-event lines reported');
  assert.match(r.stderr, new RegExp(`cwd=${l.runDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const m = readManifest(l.runDir);
  assert.equal(m.status, 'completed');
  assert.equal(m.trusted, '0', 'RL_LENS_TRUSTED=0 reached the trainer');
  console.log(`# supervisor parse cost: ${r.p.eventsParsed} events, ${(r.p.parseMs * 1000 / r.p.eventsParsed).toFixed(1)} µs/event`);
});

test('stop: graceful stop via stdin/SIGTERM → status stopped, a stop checkpoint is written', async () => {
  const l = setup({ steps: 1000, delayMs: 20 });
  const r = runIt(l, (e, p) => { if (e.type === 'step' && e.step === 3) p.stop(); });
  const x = await r.p.whenExited();
  assert.equal(x.status, 'stopped');
  assert.equal(readManifest(l.runDir).status, 'stopped');
  assert.ok(r.events.some((e) => e.type === 'checkpoint' && e.tag === 'stop'));
});

test('stop: a trainer that ignores stop is killed (process group) after the timeout and marked stopped', async () => {
  const l = setup({ steps: 1000, delayMs: 20, ignoreStop: true });
  const t0 = Date.now();
  const r = runIt(l, (e, p) => { if (e.type === 'step' && e.step === 2) p.stop(); });
  const x = await r.p.whenExited();
  const ms = Date.now() - t0;
  assert.equal(x.signal, 'SIGKILL');
  assert.equal(x.status, 'stopped');
  assert.equal(x.markedByHost, true);
  assert.equal(readManifest(l.runDir).status, 'stopped');
  assert.ok(ms >= 1400 && ms < 8000, `killed after ${ms} ms (timeout 1500)`);
  assert.throws(() => process.kill(-r.p.pid!, 0), 'process group is gone');
});

test('stop: the host writes exactly one typed ControlMessage line, {"type":"stop"}, on the trainer\'s stdin', async () => {
  const l = setup({ steps: 1000, delayMs: 20, ignoreStop: true, recordStdin: true });
  l.killAfterMs = 400;
  const r = runIt(l, (e, p) => { if (e.type === 'step' && e.step === 2) p.stop(); });
  await r.p.whenExited();
  const written = fs.readFileSync(path.join(l.runDir, 'stdin.log'), 'utf8');
  const expected: ControlMessage = { type: 'stop' };
  assert.equal(written, JSON.stringify(expected) + '\n', 'one line, exactly the typed shape');
  assert.equal(written, encodeControlMessage(expected));
  assert.deepEqual(parseControlMessage(written), { ok: true, message: expected }, 'what the trainer parses back');
});

test('crash: non-zero exit without end event → failed, manifest marked failed with the stderr tail', async () => {
  const l = setup({ steps: 10, delayMs: 10, crashAtStep: 3, exitCode: 7 });
  const r = runIt(l);
  const x = await r.p.whenExited();
  assert.equal(x.code, 7);
  assert.equal(x.status, 'failed');
  assert.equal(x.crashed, true);
  assert.equal(x.markedByHost, true);
  assert.match(x.message ?? '', /exited with code 7.*simulated trainer crash/);
  const m = readManifest(l.runDir);
  assert.equal(m.status, 'failed');
  assert.match(m.error?.message ?? '', /simulated trainer crash/);
  const events = fs.readFileSync(path.join(l.runDir, 'events.jsonl'), 'utf8').trim().split('\n').map((s) => JSON.parse(s));
  assert.equal(events.at(-1).type, 'end');
  assert.equal(events.at(-1).status, 'failed');
});

test('crash before the trainer wrote a manifest: a minimal failed manifest is written from the config', async () => {
  const l = setup({ steps: 10, crashAtStep: 1, noManifest: true });
  const x = await runIt(l).p.whenExited();
  assert.equal(x.status, 'failed');
  const m = readManifest(l.runDir);
  assert.equal(m.status, 'failed');
  assert.equal(m.algorithm, 'grpo');
  assert.equal(m.format, 'rl-lens-run');
});

test('a bad node path is reported as a failed run, not an exception', async () => {
  const l = setup({});
  l.nodePath = '/nonexistent/node';
  const x = await runIt(l).p.whenExited();
  assert.equal(x.status, 'failed');
  assert.match(x.message ?? '', /could not start the trainer with \/nonexistent\/node.*rlLens\.nodePath/);
});

test('several runs at once are supervised independently', async () => {
  const a = setup({ steps: 3, delayMs: 10 });
  const b = setup({ steps: 100, delayMs: 10, crashAtStep: 2 });
  const [xa, xb] = await Promise.all([runIt(a).p.whenExited(), runIt(b).p.whenExited()]);
  assert.equal(xa.status, 'completed');
  assert.equal(xb.status, 'failed');
});

test('markRunEnded leaves a finished manifest alone', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-mark-'));
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ format: 'rl-lens-run', status: 'completed' }));
  assert.equal(markRunEnded(dir, 'failed', 'x'), false);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')).status, 'completed');
});

test('stripJsonComments keeps strings, drops comments and trailing commas', () => {
  const t = '{\n // c\n "a": "http://x/*y*/", /* b */ "b": [1,2,],\n}';
  assert.deepEqual(JSON.parse(stripJsonComments(t)), { a: 'http://x/*y*/', b: [1, 2] });
});
