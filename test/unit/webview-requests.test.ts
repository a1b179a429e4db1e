// Webview → host requests (src/shared/protocol.ts WebviewRequests): every method has exactly one host handler
// (src/host/ui/panels/requests.ts), checked by the compiler (`npx tsc -p . --noEmit`) and here at run time; replies
// carry the method's result type.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  REQUEST_METHODS, parseWebviewMessage,
  type Params, type RequestMessage, type RequestMethod, type ResponseMessage, type Result, type WebviewRequestHandlers, type WebviewRequests,
} from '../../src/shared/protocol';
import { answerRequest, webviewRequestHandlers, type RequestContext } from '../../src/host/ui/panels/requests';
import { RunFollower, runRef } from '../../src/host/ui/panels/dataProvider';
import { makeRun, writeTextOnlyStep } from '../fixtures/makeRun';
import { readRolloutStep } from '../../src/runio/reader';

// ---- compile-time checks (tsc) -------------------------------------------------------------------------------
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
const handlerKeysAreMethods: Equal<keyof WebviewRequestHandlers, keyof WebviewRequests> = true;
const getStepIsTyped: Equal<Result<'rollout/getStep'>, WebviewRequests['rollout/getStep']['result']> = true;
const listStepsResult: Equal<Result<'rollout/listSteps'>, number[]> = true;
void [handlerKeysAreMethods, getStepIsTyped, listStepsResult];
const noop = (): never => { throw new Error('not called'); };
// @ts-expect-error a handler table without 'metrics/get' does not compile
const missing: WebviewRequestHandlers = { 'runs/list': noop, 'rollout/listSteps': noop, 'rollout/getStep': noop };
// @ts-expect-error a handler for a method WebviewRequests does not declare does not compile
const extra: WebviewRequestHandlers = { 'runs/list': noop, 'rollout/listSteps': noop, 'rollout/getStep': noop, 'metrics/get': noop, 'runs/delete': noop };
// @ts-expect-error a handler returning the wrong result type does not compile
const wrong: WebviewRequestHandlers = { 'runs/list': () => 42, 'rollout/listSteps': noop, 'rollout/getStep': noop, 'metrics/get': noop };
void [missing, extra, wrong];

function fakeContext(dir: string, calls: string[]): RequestContext {
  return {
    listRuns: async () => { calls.push('listRuns'); return [runRef(dir)]; },
    allowedRun: async (runDir) => {
      calls.push(`allowedRun ${path.basename(runDir)}`);
      if (path.resolve(runDir) !== dir) throw new Error(`${runDir} is not a run this view was opened with`);
      return dir;
    },
    follow: (runDir) => { calls.push(`follow ${path.basename(runDir)}`); },
    followMetrics: (abs) => { calls.push(`followMetrics ${path.basename(abs)}`); return new RunFollower(abs).initial(); },
    saveFile: async () => { throw new Error('not called'); },
    saveExport: async (f) => { calls.push(`saveExport ${f.fileName}`); return undefined; },
  };
}

test('requests: every declared method has a host handler, and the envelope check knows exactly those methods', () => {
  const handlers = webviewRequestHandlers(fakeContext('/nowhere', []));
  assert.deepEqual(Object.keys(handlers).sort(), [...REQUEST_METHODS].sort());
  assert.deepEqual([...REQUEST_METHODS].sort(), ['export/save', 'metrics/at', 'metrics/columns', 'metrics/get', 'metrics/series', 'metrics/window', 'rollout/domain', 'rollout/drill', 'rollout/getStep', 'rollout/listSteps', 'rollout/overview', 'rollout/search', 'rollout/stepInfo', 'rollout/textMatch', 'rollout/window', 'runs/list', 'samples/export', 'tokenDiff/samples', 'tokenDiff/summary']);
  for (const m of REQUEST_METHODS) {
    assert.equal(typeof handlers[m], 'function', m);
    const parsed = parseWebviewMessage({ kind: 'request', id: 1, method: m, params: {} });
    assert.ok('kind' in parsed, `${m} accepted`);
  }
  const bad = parseWebviewMessage({ kind: 'request', id: 1, method: 'runs/delete', params: {} });
  assert.deepEqual(bad, { error: 'unknown request method "runs/delete"' });
});

test('requests: each handler answers with its method\'s result; errors become ok:false responses', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-req-'));
  try {
    const dir = makeRun({ dir: path.join(tmp, 'r'), algorithm: 'grpo', steps: 4, status: 'completed' });
    const calls: string[] = [];
    const handlers = webviewRequestHandlers(fakeContext(dir, calls));
    let id = 0;
    const ask = async <M extends RequestMethod>(method: M, params: Params<M>): Promise<ResponseMessage<M>> => {
      const msg = { kind: 'request', id: ++id, method, params } as RequestMessage<M>;
      const r = await answerRequest(handlers, msg);
      assert.equal(r.id, id);
      return r;
    };
    const runs = await ask('runs/list', {});
    assert.ok(runs.ok && runs.result[0].runDir === dir);
    const steps = await ask('rollout/listSteps', { runDir: dir });
    assert.ok(steps.ok && steps.result.length > 0 && steps.result.every((s) => Number.isInteger(s)));
    const step = await ask('rollout/getStep', { runDir: dir, step: steps.ok ? steps.result[0] : 0 });
    assert.ok(step.ok && step.result.samples.length > 0);
    const metrics = await ask('metrics/get', { runDir: dir });
    assert.ok(metrics.ok && metrics.result.records.length === 4, 'four metric records');
    assert.deepEqual(calls, ['listRuns', 'allowedRun r', 'follow r', 'allowedRun r', 'allowedRun r', 'followMetrics r']);
    const denied = await ask('rollout/getStep', { runDir: tmp, step: 1 });
    assert.deepEqual(denied, { kind: 'response', id, ok: false, error: `${tmp} is not a run this view was opened with` });
    const noStep = await ask('rollout/getStep', { runDir: dir, step: -1 });
    assert.ok(!noStep.ok && /non-negative integer/.test(noStep.error));
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});

test('requests: rollout/stepInfo marks the steps with per-token traces; samples/export writes the named samples as JSONL', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-req-'));
  try {
    const dir = makeRun({ dir: path.join(tmp, 'r'), algorithm: 'grpo', steps: 10, status: 'completed' });
    writeTextOnlyStep(dir, 10, 7); // a summary step: texts and rewards, no per-token arrays
    const calls: string[] = [];
    const saved: { name: string; content: string }[] = [];
    const handlers = webviewRequestHandlers({ ...fakeContext(dir, calls), saveFile: async (name, content) => { saved.push({ name, content }); return path.join(tmp, name); } });
    const info = await answerRequest(handlers, { kind: 'request', id: 1, method: 'rollout/stepInfo', params: { runDir: dir } });
    assert.ok(info.ok);
    assert.deepEqual(info.result.map((s) => [s.step, s.traced]), [[5, true], [7, false], [10, true]]);
    assert.deepEqual(info.result.map((s) => [s.samples, s.groups]), [[24, 6], [24, 6], [24, 6]]);
    assert.ok(calls.includes('follow r'), 'stepInfo follows the run (new steps are announced)');
    const st = readRolloutStep(dir, 10);
    const ex = await answerRequest(handlers, { kind: 'request', id: 2, method: 'samples/export', params: { runDir: dir, step: 10, samples: [3, 0, 99] } });
    assert.deepEqual(ex, { kind: 'response', id: 2, ok: true, result: { path: path.join(tmp, 'r-step10-samples.jsonl'), count: 2 } });
    assert.equal(saved.length, 1);
    const lines = saved[0].content.trimEnd().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.sample), [3, 0], 'in the order shown; an unknown index is skipped');
    for (const l of lines) {
      const s = st.samples[l.sample];
      assert.deepEqual([l.step, l.prompt, l.completion, l.reward, l.rewardParts, l.advantage, l.length, l.truncated, l.tokens],
        [10, s.prompt, s.completion, s.reward, s.rewardParts, s.advantage, s.length, !!s.truncated, s.tokens]);
      assert.equal(l.answer, st.header.groups.find((g) => g.id === s.group)!.answer);
    }
    const denied = await answerRequest(handlers, { kind: 'request', id: 3, method: 'samples/export', params: { runDir: tmp, step: 10, samples: [0] } });
    assert.ok(!denied.ok && /not a run this view was opened with/.test(denied.error));
    const cancelled = await answerRequest(webviewRequestHandlers({ ...fakeContext(dir, []), saveFile: async () => undefined }), { kind: 'request', id: 4, method: 'samples/export', params: { runDir: dir, step: 10, samples: [1] } });
    assert.deepEqual(cancelled, { kind: 'response', id: 4, ok: true, result: { path: undefined, count: 1 } });
  } finally { fs.rmSync(tmp, { recursive: true, force: true }); }
});
