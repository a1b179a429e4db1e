/**
 * Host → trainer control messages: the other direction of the trainer's stdout TrainerEvent stream
 * (src/shared/runFormat.ts). With `--events stdout` the trainer reads its stdin as one JSON ControlMessage per line.
 *
 * Written by the extension host (src/host/trainerProcess.ts, `encodeControlMessage`), read by the trainer CLI
 * (src/cli/train.ts, `parseControlMessage`). Pure: no `vscode`, no Node APIs (bundled into host and trainer).
 */

/** Every message the host may send to a running trainer. */
export type ControlMessage =
  /** finish the current step, write a `stop` checkpoint, end with status `stopped` (as SIGTERM does) */
  | { type: 'stop' };

export type ControlMessageType = ControlMessage['type'];

/** The message types, declared once (a Record so that adding a type to ControlMessage without listing it fails to compile). */
const CONTROL_TYPES: Record<ControlMessageType, true> = { stop: true };
export const CONTROL_MESSAGE_TYPES = Object.keys(CONTROL_TYPES) as ControlMessageType[];

/** One stdin line (newline included) carrying `m`. */
export function encodeControlMessage(m: ControlMessage): string {
  return JSON.stringify(m) + '\n';
}

/** A stdin line, parsed: the message, or why it is not one (to report, never to throw). */
export type ParsedControl = { ok: true; message: ControlMessage } | { ok: false; error: string };

/** Parse and validate one stdin line (surrounding whitespace ignored; the caller skips blank lines). */
export function parseControlMessage(line: string): ParsedControl {
  const s = line.trim();
  const shown = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  let v: unknown;
  try { v = JSON.parse(s); } catch { return { ok: false, error: `not JSON: ${shown}` }; }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { ok: false, error: `not a JSON object: ${shown}` };
  const type = (v as { type?: unknown }).type;
  if (typeof type !== 'string') return { ok: false, error: `no "type" field: ${shown}` };
  if (!Object.prototype.hasOwnProperty.call(CONTROL_TYPES, type)) {
    return { ok: false, error: `unknown control message type "${type.slice(0, 40)}" (known: ${CONTROL_MESSAGE_TYPES.join(', ')})` };
  }
  switch (type as ControlMessageType) {
    case 'stop': return { ok: true, message: { type: 'stop' } };
  }
}
