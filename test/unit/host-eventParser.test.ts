import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { EventLineParser, checkEvent, type ParsedLine } from '../../src/host/eventParser';

const ev = (step: number) => ({ type: 'step', time: '2026-01-01T00:00:00Z', step, metrics: { 'reward/mean': step / 10, kl: 0.01 } });

function feedAll(p: EventLineParser, chunks: (Buffer | string)[]): ParsedLine[] {
  const out: ParsedLine[] = [];
  for (const c of chunks) out.push(...p.push(c));
  out.push(...p.end());
  return out;
}

test('events split at every possible byte position parse identically', () => {
  const text = [ev(1), ev(2), { type: 'log', time: 't', level: 'info', message: 'héllo ✓ 日本' }, { type: 'end', time: 't', status: 'completed' }]
    .map((e) => JSON.stringify(e)).join('\n') + '\n';
  const buf = Buffer.from(text, 'utf8');
  for (let cut = 0; cut <= buf.length; cut++) {
    const got = feedAll(new EventLineParser(), [buf.subarray(0, cut), buf.subarray(cut)]);
    assert.equal(got.length, 4, `cut at ${cut}`);
    assert.ok(got.every((g) => g.kind === 'event'), `cut at ${cut}: ${JSON.stringify(got)}`);
    const log = got[2];
    assert.equal(log.kind === 'event' && log.event.type === 'log' ? log.event.message : '', 'héllo ✓ 日本', `multi-byte char split at ${cut}`);
  }
  // one byte at a time
  const bytes = [...buf].map((b) => Buffer.from([b]));
  const got = feedAll(new EventLineParser(), bytes);
  assert.deepEqual(got.map((g) => g.kind === 'event' ? g.event.type : 'x'), ['step', 'step', 'log', 'end']);
});

test('garbage lines are reported with line numbers and reasons, never thrown', () => {
  const p = new EventLineParser();
  const got = feedAll(p, ['not json at all\n', '{"type":"step","step":1,"time":"t","metrics":{}}\r\n', '[1,2]\n', '{"type":"bogus"}\n', '{"no":1}\n', '\n', '{"type":"step"}\n', '{"type":"end","time":"t","status":"completed"}']);
  const summary = got.map((g) => g.kind === 'event' ? `E${g.line}:${g.event.type}` : `G${g.line}`);
  assert.deepEqual(summary, ['G1', 'E2:step', 'G3', 'G4', 'G5', 'G7', 'E8:end']);
  const g4 = got[3];
  assert.ok(g4.kind === 'garbage' && /unknown event type "bogus"/.test(g4.reason));
  const g7 = got[5];
  assert.ok(g7.kind === 'garbage' && /without a numeric "step"/.test(g7.reason));
  assert.equal(checkEvent(null), 'not a JSON object');
});

test('an overlong line is dropped without buffering it whole, and parsing resumes after it', () => {
  const p = new EventLineParser({ maxLineBytes: 100 });
  const got = feedAll(p, ['x'.repeat(60), 'y'.repeat(60), 'z'.repeat(60) + '\n', JSON.stringify(ev(3)) + '\n']);
  assert.equal(got.length, 2);
  assert.equal(got[0].kind, 'garbage');
  assert.ok(got[1].kind === 'event' && got[1].event.type === 'step' && got[1].event.step === 3);
});

// Throughput is measured by the benchmark (scripts/bench-host.mjs → bench-results/host.json), not here.
test('20k step events in 64 KiB chunks: every event parsed once, in order, with its line number and metrics', () => {
  const lines = Array.from({ length: 20000 }, (_, i) => JSON.stringify({ ...ev(i), metrics: Object.fromEntries(Array.from({ length: 25 }, (_, k) => [`metric/${k}`, i * k * 1e-3])) }) + '\n');
  const buf = Buffer.from(lines.join(''), 'utf8');
  const p = new EventLineParser();
  const got: ParsedLine[] = [];
  for (let at = 0; at < buf.length; at += 65536) got.push(...p.push(buf.subarray(at, at + 65536)));
  got.push(...p.end());
  assert.equal(got.length, 20000);
  got.forEach((g, i) => {
    assert.ok(g.kind === 'event' && g.event.type === 'step', `line ${i + 1}: ${g.kind}`);
    assert.equal(g.line, i + 1);
    assert.equal(g.event.step, i);
    assert.equal(Object.keys(g.event.metrics).length, 25);
    assert.equal(g.event.metrics['metric/7'], i * 7 * 1e-3);
  });
});
