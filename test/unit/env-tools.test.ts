/**
 * The multi-turn environment API (src/trainer/envs): the tool-call syntax `?ARGS=`, error observations for bad calls
 * (never a throw), the built-in calculator and lookup environments (tools, rewards, demonstrations), the task
 * adapter, and the user environment module behind Workspace Trust.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CalcEnvironment, LookupEnvironment, LOOKUP_TABLE, TOOL_ERROR, createEnvironment, envItemOf, evalSum, executeCall, finalAnswerOf, loadUserEnvironment, parseToolCall, type Environment,
} from '../../src/trainer/envs';
import { createTask } from '../../src/trainer/tasks';
import { CharTokenizer } from '../../src/trainer/tokenizer';
import { Rng } from '../../src/trainer/rng';

test('tool-call syntax: ?ARGS= is a call, text without = is no call, = without ? is a malformed call', () => {
  assert.deepEqual(parseToolCall('?12+7='), { isCall: true, args: '12+7' });
  assert.deepEqual(parseToolCall('let me ?3+4='), { isCall: true, args: '3+4' });
  assert.deepEqual(parseToolCall('104'), { isCall: false });
  const bad = parseToolCall('12+7=');
  assert.equal(bad.isCall, true);
  assert.match(bad.error!, /must start with '\?'/);
});

test('bad calls get the error observation and the per-turn penalty, never a throw', () => {
  const calc = new CalcEnvironment();
  const it = calc.sample(new Rng(1), 'train');
  assert.deepEqual(executeCall(calc, it, parseToolCall('?12+7=')), { output: '19' });
  for (const t of ['?1a=', '?=', '12+7=', '?+=', '?99999+1=']) {
    const r = executeCall(calc, it, parseToolCall(t));
    assert.equal(r.output, TOOL_ERROR, t);
    assert.equal(r.reward, -0.1, t);
    assert.ok(r.error, t);
  }
  // a tool that throws, or returns garbage
  const thrower = { ...calc, name: 'x', tool: () => { throw new Error('boom'); } } as unknown as Environment;
  assert.match(executeCall(thrower, it, parseToolCall('?1=')).error!, /tool threw: boom/);
  const garbage = { ...calc, name: 'y', tool: () => 42 } as unknown as Environment;
  assert.equal(executeCall(garbage, it, parseToolCall('?1=')).output, TOOL_ERROR);
});

test('calc: sums, rewards from the final answer, demonstrations replay through the tool; every character is in the tokenizer', () => {
  assert.equal(evalSum('12+7-3'), 16);
  assert.equal(evalSum('-5+2'), -3);
  assert.equal(evalSum('1*2'), undefined);
  const calc = new CalcEnvironment();
  const tok = new CharTokenizer();
  for (const ch of calc.chars) assert.ok(tok.has(ch), ch);
  const rng = new Rng(5);
  for (let i = 0; i < 20; i++) {
    const it = calc.sample(rng, 'train');
    const demo = calc.demo(it);
    tok.encode(it.prompt + demo);
    // every call in the demonstration gets exactly the output written after it
    for (const m of demo.matchAll(/\?([^=]+)=(\S+) /g)) assert.equal(calc.tool(it, m[1]).output, m[2]);
    assert.equal(finalAnswerOf(demo), it.answer);
    assert.deepEqual(calc.finalReward(it, it.answer, true), { score: 1.1, parts: { accuracy: 1, format: 1 }, correct: true });
    assert.equal(calc.finalReward(it, it.answer, false).score, 0);
    assert.equal(calc.finalReward(it, String(Number(it.answer) + 1), true).score, 0.1);
  }
  assert.throws(() => new CalcEnvironment({ terms: 1 }), /terms must be an integer ≥ 2/);
});

test('lookup: the tool reads the table, unknown keys are errors; eval and train prompts are disjoint', () => {
  const env = new LookupEnvironment();
  const it = env.sample(new Rng(2), 'train');
  assert.equal(env.tool(it, 'c').output, String(LOOKUP_TABLE.c));
  assert.equal(env.tool(it, 'z').output, TOOL_ERROR);
  assert.equal(env.tool(it, 'constructor').output, TOOL_ERROR);
  const ev = new Set(env.evalItems(10).map((x) => x.prompt));
  const rng = new Rng(3);
  for (let i = 0; i < 200; i++) assert.ok(!ev.has(env.sample(rng, 'train').prompt));
  assert.equal(finalAnswerOf(env.demo(it)), it.answer);
  assert.throws(() => createEnvironment('nope'), /unknown environment "nope"; allowed: calc, lookup/);
});

test('task adapter: calc-tool demonstrations fit the declared bounds at every difficulty; corrupt answers are wrong but well formed', () => {
  for (const d of [1, 2, 3]) {
  const task = createTask('calc-tool', { difficulty: d });
  const rng = new Rng(9);
  assert.equal(task.sample(rng, 'train').prompt.split('+').length, d + 1);
  for (let i = 0; i < 300; i++) {
    const ex = task.sample(rng, 'train');
    assert.ok(ex.prompt.length <= task.maxPromptLength() && ex.answer.length <= task.maxAnswerLength(), `${ex.prompt} ${ex.answer}`);
    assert.ok(task.isCorrect(ex, ex.answer));
    const bad = task.corrupt(ex, rng);
    assert.ok(!task.isCorrect(ex, bad) && task.reward(ex, bad, true).parts.format === 1, bad);
  }
  }
  for (const d of [1, 2]) {
    const lt = createTask('lookup-tool', { difficulty: d });
    const rng = new Rng(4);
    for (let i = 0; i < 100; i++) { const ex = lt.sample(rng, 'train'); assert.ok(ex.prompt.length <= lt.maxPromptLength() && ex.answer.length <= lt.maxAnswerLength(), ex.answer); }
  }
  assert.throws(() => createTask('calc-tool', { difficulty: 4 }), /difficulty 4 is out of range; allowed: integers 1\.\.3/);
  // eval items from the adapter's examples carry the final answer, not the demonstration
  const ex = createTask('calc-tool').evalSet(1)[0];
  assert.equal(envItemOf(ex).answer, finalAnswerOf(ex.answer));
});

test('user environment module: refused in an untrusted workspace, loaded and checked in a trusted one', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'env-mod-'));
  const good = path.join(dir, 'env.js');
  fs.writeFileSync(good, `module.exports = { name: 'echo', chars: '0123456789?=: ', sample: () => ({ prompt: '1:', answer: '1' }), evalItems: (n) => Array.from({ length: n }, () => ({ prompt: '1:', answer: '1' })),
    tool: (_i, a) => ({ output: a }), finalReward: (i, a, f) => ({ score: a === i.answer && f ? 1 : 0, parts: {}, correct: a === i.answer && f }), demo: () => '?1=1 1' };`);
  assert.throws(() => loadUserEnvironment(good, { trusted: false }), /rl\.env\.module: refusing to load .*not trusted/);
  const env = loadUserEnvironment(good, { trusted: true });
  assert.equal(env.name, 'echo');
  const bad = path.join(dir, 'bad.js');
  fs.writeFileSync(bad, `module.exports = { name: 'x', chars: 'a', sample() {} };`);
  assert.throws(() => loadUserEnvironment(bad, { trusted: true }), /environment\.evalItems must be a function/);
  assert.throws(() => loadUserEnvironment(path.join(dir, 'missing.js'), { trusted: true }), /rl\.env\.module: cannot load/);
});

test('a run with rl.env.module: refused by the engine when the workspace is untrusted; a task without an environment is named', async () => {
  const { resolveConfig } = await import('../../src/trainer/config');
  await import('../../src/trainer/plugins');
  const { runTraining } = await import('../../src/trainer/engine');
  const { calcToolPreset } = await import('../../src/shared/presets');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'env-run-'));
  const mod = path.join(dir, 'env.js');
  fs.writeFileSync(mod, 'module.exports = {};');
  const cfg = (over: Record<string, unknown>) => resolveConfig({ ...calcToolPreset('gigpo'), backend: 'cpu', ...over, rl: { env: { module: mod } } });
  await assert.rejects(runTraining(cfg({}), { outDir: path.join(dir, 'a'), trusted: false }), /rl\.env\.module: refusing to load .*not trusted/);
  await assert.rejects(runTraining(cfg({ task: { name: 'arithmetic' }, model: { contextLength: 48 } }), { outDir: path.join(dir, 'b'), trusted: true }), /rl\.env\.module: needs a task with an environment/);
});
