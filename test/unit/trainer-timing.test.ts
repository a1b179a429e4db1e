// Step timing and log events of the engine: a step's time (perf/step_time, perf/tokens_per_sec, the ETA) is that step
// alone, not the warm start or the step-0 eval before it; each log message is written once (events.jsonl, progress).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PRESETS, deepMerge, resolveConfig } from '../../src/trainer/config';
import '../../src/trainer/plugins'; // the entry point registers the algorithms (config.ts imports none)
import { registerAlgorithm, runTraining } from '../../src/trainer/engine';
import { readEvents, readMetrics } from '../../src/runio/reader';
import type { TrainerEvent } from '../../src/shared/runFormat';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rllens-timing-'));
const busy = (ms: number) => { const end = Date.now() + ms; while (Date.now() < end) { /* a step's work */ } };
const WARM_MS = 900, STEP_MS = 30, STEPS = 6;

// a long one-off phase (as the RL warm start), the step-0 eval, then short steps with an eval and a checkpoint between them
registerAlgorithm({
  name: 'test_long_warm_start', kind: 'sft', summary: 'test: a long warm start phase, then short steps',
  async run(ctx) {
    ctx.log('test: warm start first');
    for (let s = 1; s <= 9; s++) { busy(WARM_MS / 9); ctx.phase('warm start', s, 9, `warm start ${s}/9`, { level: s === 9 ? 'info' : 'debug' }); await ctx.yield(); }
    ctx.evaluate(0);
    for (let s = 1; s <= ctx.totalSteps; s++) {
      busy(STEP_MS);
      ctx.step(s, { loss: 1 / s }, { tokens: 300 });
      if (s === 3) { ctx.evaluate(3); ctx.checkpoint(3); }
      await ctx.yield();
    }
  },
});

test('step time: step 1 is its own work, not the warm start or the step-0 eval before it; the ETA counts steps only', async () => {
  const dir = path.join(tmp(), 'run');
  const events: TrainerEvent[] = [];
  const lines: string[] = [];
  const cfg = resolveConfig(deepMerge(PRESETS.tiny(), { algorithm: 'test_long_warm_start', backend: 'wasm', train: { steps: STEPS }, eval: { every: 0, numPrompts: 4, samplesPerPrompt: 2, k: [1, 2] }, rollouts: { every: 0 }, checkpoint: { every: 0 } }));
  const r = await runTraining(cfg, { outDir: dir, onEvent: (e) => events.push(e), progress: (l) => lines.push(l) });
  assert.equal(r.status, 'completed', r.error);
  const train = readMetrics(dir).filter((x) => x.split === 'train');
  assert.equal(train.length, STEPS);
  const st = train.map((x) => x.values['perf/step_time'] as number);
  // each step busy-waits STEP_MS; the warm start took WARM_MS (the old engine timed step 1 from the run's setup: ≥ WARM_MS)
  for (const [i, v] of st.entries()) assert.ok(v >= STEP_MS / 1000 * 0.9 && v < 0.3, `step ${i + 1}: perf/step_time ${v} s (a step is ${STEP_MS} ms, the warm start ${WARM_MS} ms)`);
  const later = st.slice(1).reduce((a, b) => a + b, 0) / (STEPS - 1);
  assert.ok(st[0] < 5 * later + 0.05, `step 1 (${st[0]} s) is of the order of the later steps (${later} s), not of the warm start`);
  // step 4 follows the eval and checkpoint after step 3: they are not in its time either
  assert.ok(st[3] < 0.3, `step 4: ${st[3]}`);
  const tps = train[0].values['perf/tokens_per_sec'] as number;
  assert.ok(Math.abs(tps - 300 / st[0]) < 1e-6 * tps, 'tokens/s = the step\'s tokens / its time');
  const steps = events.filter((e): e is Extract<TrainerEvent, { type: 'step' }> => e.type === 'step');
  // ETA after step 1: (STEPS − 1) steps of about STEP_MS, not (STEPS − 1) × (warm start + eval + step)
  assert.ok(steps[0].etaSeconds! < (STEPS - 1) * 0.3, `ETA after step 1: ${steps[0].etaSeconds} s`);
  assert.ok(steps[0].etaSeconds! >= (STEPS - 1) * STEP_MS / 1000 * 0.9, `ETA after step 1: ${steps[0].etaSeconds} s`);
  assert.equal(steps[STEPS - 1].etaSeconds, 0);
  // the progress line of step 1 shows the step's own time
  const p1 = lines.find((l) => /^step 1\/6 /.test(l));
  assert.ok(p1 && Number(/ (\d+)ms\/step/.exec(p1)![1]) < 300, p1);
  // with an event consumer, log messages are events only (the extension shows events and stderr: once, not twice)
  assert.ok(!lines.some((l) => /test: warm start first|^warm start \d/.test(l)), lines.join('\n'));
  const logs = readEvents(dir).filter((e) => e.type === 'log').map((e) => (e as { message: string }).message);
  assert.equal(logs.filter((m) => m === 'test: warm start first').length, 1);
  assert.equal(logs.filter((m) => m === 'warm start 9/9').length, 1);
});

test('RL run with a supervised warm start: step 1 is one RL step; one token-rate and one step-time name; each log message once', async () => {
  const dir = path.join(tmp(), 'rl');
  const lines: string[] = [];
  const WS = 150;
  const cfg = resolveConfig(deepMerge(PRESETS['grpo-tiny'](), { backend: 'wasm', rl: { warmStart: { steps: WS } } }));
  const r = await runTraining(cfg, { outDir: dir, progress: (l) => lines.push(l) });
  assert.equal(r.status, 'completed', r.error);
  const ev = readEvents(dir);
  const phases = ev.filter((e) => e.type === 'log' && (e as { phase?: unknown }).phase) as Extract<TrainerEvent, { type: 'log' }>[];
  const warmSeconds = (Date.parse(phases[phases.length - 1].time) - Date.parse(phases[0].time)) / 1000;
  const train = readMetrics(dir).filter((x) => x.split === 'train');
  for (const x of train) {
    const v = x.values;
    assert.ok(!('tokens_per_s' in v) && !('step_time' in v), `step ${x.step}: one name each (perf/tokens_per_sec, perf/step_time): ${Object.keys(v).join(', ')}`);
    const dt = v['perf/step_time'] as number;
    assert.ok(dt > 0, `step ${x.step}`);
    assert.ok(Math.abs((v['perf/tokens_per_sec'] as number) - (v['tokens/generated'] as number) / dt) < 1e-6 * (v['perf/tokens_per_sec'] as number), `step ${x.step}: tokens/s = generated tokens / step time`);
    // the RL step's parts are in its time
    assert.ok(dt + 1e-3 >= (v['timing/gen_s'] as number), `step ${x.step}`);
  }
  const st1 = train[0].values['perf/step_time'] as number;
  assert.ok(st1 < warmSeconds / 3, `step 1 ${st1} s vs the warm start ${warmSeconds} s`);
  const step1 = ev.find((e) => e.type === 'step') as Extract<TrainerEvent, { type: 'step' }>;
  assert.ok(step1.etaSeconds! < warmSeconds, `ETA after step 1 (${step1.etaSeconds} s) does not extrapolate the warm start (${warmSeconds} s)`);
  // each log message once in events.jsonl, and once on the terminal (no event consumer here)
  const logs = ev.filter((e) => e.type === 'log').map((e) => (e as { message: string }).message);
  const dup = logs.filter((m, i) => logs.indexOf(m) !== i);
  assert.deepEqual(dup, [], 'duplicate log events');
  for (const m of [`warm start 100/${WS}`, `warm start ${WS}/${WS}`, 'no init.checkpoint: supervised warm start first']) {
    assert.equal(logs.filter((l) => l.includes(m)).length, 1, m);
    assert.equal(lines.filter((l) => l.includes(m)).length, 1, `${m} on the terminal:\n${lines.join('\n')}`);
  }
  const info = ev.filter((e) => e.type === 'log' && (e as { level: string }).level === 'info' && /^warm start/.test((e as { message: string }).message));
  assert.deepEqual(info.map((e) => (e as { phase?: { done: number } }).phase?.done), [100, WS], 'the every-100 lines are info-level phase events (with the progress)');
});

test('tfgrpo, as the extension sees it (stderr + events in one Output channel): each log line once; steps timed alone', async () => {
  const dir = path.join(tmp(), 'tfgrpo');
  const channel: string[] = [];
  const cfg = resolveConfig(deepMerge(PRESETS['tfgrpo-calc'](), {
    backend: 'wasm', model: { dModel: 32, nLayers: 1 }, eval: { numPrompts: 4, samplesPerPrompt: 2, k: [1, 2] },
    tfgrpo: { trainSize: 8, batchSize: 4, groupSize: 3, epochs: 1, warmStart: { steps: 100, batchSize: 16 } },
  }));
  // the host (src/host/supervisor.ts) writes every stderr line and every log / warning event's message to the run's channel
  const r = await runTraining(cfg, {
    outDir: dir, progress: (l) => channel.push(l),
    onEvent: (e) => {
      if (e.type === 'log' && e.level !== 'debug') channel.push(e.message);
      if (e.type === 'warning') channel.push(e.message);
      // ... and its own line per eval event (supervisor.ts: `eval at step N: pass@k=…`)
      if (e.type === 'eval') channel.push(`eval at step ${e.step}: ${Object.entries(e.passAtK).map(([k, v]) => `pass@${k}=${v.toFixed(3)}`).join(' ')}`);
    },
  });
  assert.equal(r.status, 'completed', r.error);
  const dup = channel.filter((l, i) => channel.indexOf(l) !== i);
  assert.deepEqual(dup, [], `lines twice in the Output channel:\n${channel.join('\n')}`);
  // the trainer's own eval line is a progress line only without an event consumer: the host's line is the one shown
  assert.deepEqual(channel.filter((l) => /^eval step \d+:/.test(l)), []);
  for (const re of [/^tfgrpo: no init\.checkpoint: supervised warm start first/, /^warm start 100\/100: loss/, /^step 1\/2 \(epoch 1\)/, /^eval at step 0:/]) {
    assert.equal(channel.filter((l) => re.test(l)).length, 1, `${re}:\n${channel.join('\n')}`);
  }
  const logs = readEvents(dir).filter((e) => e.type === 'log').map((e) => (e as { message: string }).message);
  assert.deepEqual(logs.filter((m, i) => logs.indexOf(m) !== i), [], 'duplicate log events in events.jsonl');
  const ev = readEvents(dir);
  // the eval events carry the no-library baseline (the host shows it beside the with-library numbers)
  const evals = ev.filter((e) => e.type === 'eval') as Array<{ baseline?: { name: string; passAtK: Record<string, number> } }>;
  assert.ok(evals.length >= 1 && evals.every((e) => e.baseline?.name === 'no_library' && Number.isFinite(e.baseline.passAtK['1'])), JSON.stringify(evals));
  const phases = ev.filter((e) => e.type === 'log' && (e as { phase?: unknown }).phase);
  const warmSeconds = (Date.parse(phases[phases.length - 1].time) - Date.parse(phases[0].time)) / 1000;
  const st1 = readMetrics(dir).find((x) => x.split === 'train' && x.step === 1)!.values['perf/step_time'] as number;
  assert.ok(st1 > 0 && st1 < warmSeconds / 3, `step 1 ${st1} s vs the warm start ${warmSeconds} s`);
});
