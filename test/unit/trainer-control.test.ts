import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { CONTROL_MESSAGE_TYPES, encodeControlMessage, parseControlMessage, type ControlMessage } from '../../src/shared/control';

test('control: {"type":"stop"} parses to the typed stop message (whitespace and the newline ignored)', () => {
  assert.deepEqual(parseControlMessage('{"type":"stop"}'), { ok: true, message: { type: 'stop' } });
  assert.deepEqual(parseControlMessage('  {"type":"stop"}\r\n'), { ok: true, message: { type: 'stop' } });
  assert.deepEqual(parseControlMessage('{"type":"stop","extra":1}'), { ok: true, message: { type: 'stop' } }, 'extra fields dropped');
});

test('control: every declared type round-trips through encode → parse', () => {
  assert.deepEqual(CONTROL_MESSAGE_TYPES, ['stop']);
  for (const type of CONTROL_MESSAGE_TYPES) {
    const m = { type } as ControlMessage;
    const line = encodeControlMessage(m);
    assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'), 'one line');
    assert.deepEqual(parseControlMessage(line), { ok: true, message: m });
  }
});

test('control: junk is rejected with a message naming the problem, never thrown', () => {
  const cases: Array<[string, RegExp]> = [
    ['stop', /^not JSON: stop$/],
    ['{"type":"stop"', /^not JSON/],
    ['[1,2]', /^not a JSON object/],
    ['null', /^not a JSON object/],
    ['"stop"', /^not a JSON object/],
    ['{"stop":true}', /^no "type" field/],
    ['{"type":7}', /^no "type" field/],
    ['{"type":"pause"}', /^unknown control message type "pause" \(known: stop\)$/],
    ['{"type":"__proto__"}', /^unknown control message type/],
    ['{"type":"toString"}', /^unknown control message type/],
  ];
  for (const [line, re] of cases) {
    const r = parseControlMessage(line);
    assert.equal(r.ok, false, line);
    if (!r.ok) assert.match(r.error, re, line);
  }
  const long = parseControlMessage('x'.repeat(500));
  assert.ok(!long.ok && long.error.length < 120, 'long junk is shortened in the message');
});
