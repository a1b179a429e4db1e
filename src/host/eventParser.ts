/**
 * Incremental parser for the trainer's `--events stdout` channel: one JSON TrainerEvent per line.
 * Pure (no `vscode`): chunks arrive as Buffers split anywhere (mid-line, mid-UTF-8 character); complete
 * lines are parsed as soon as they are complete; nothing is re-scanned (the cost is O(bytes) overall).
 * Lines that are not a JSON object with a known `type` are reported as `garbage` (never thrown): a stray
 * console.log in the trainer must not break the extension.
 */
import { StringDecoder } from 'string_decoder';
import type { TrainerEvent, TrainerEventType } from '../shared/runFormat';

export const KNOWN_EVENT_TYPES: ReadonlySet<TrainerEventType> = new Set<TrainerEventType>(
  ['start', 'step', 'rollout', 'eval', 'checkpoint', 'log', 'warning', 'error', 'end'],
);

export type ParsedLine =
  | { kind: 'event'; event: TrainerEvent; line: number }
  | { kind: 'garbage'; text: string; line: number; reason: string };

export interface EventParserOptions {
  /** a line longer than this is dropped (reported as garbage) instead of being buffered without bound */
  maxLineBytes?: number;
}

/** Validate that a parsed JSON value looks like a TrainerEvent; returns a reason when it does not. */
export function checkEvent(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const t = (v as { type?: unknown }).type;
  if (typeof t !== 'string') return 'no "type" field';
  if (!KNOWN_EVENT_TYPES.has(t as TrainerEventType)) return `unknown event type ${JSON.stringify(t)}`;
  const e = v as Record<string, unknown>;
  switch (t) {
    case 'step': case 'rollout': case 'eval': case 'checkpoint':
      if (typeof e.step !== 'number') return `"${t}" event without a numeric "step"`;
      break;
    case 'end':
      if (typeof e.status !== 'string') return '"end" event without "status"';
      break;
    default: break;
  }
  return undefined;
}

export class EventLineParser {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private dropping = false;
  private lineNo = 0;
  private readonly maxLine: number;

  constructor(opts: EventParserOptions = {}) {
    this.maxLine = opts.maxLineBytes ?? 16 * 1024 * 1024;
  }

  /** Feed a chunk; returns the lines it completed, in order. */
  push(chunk: Buffer | string): ParsedLine[] {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const out: ParsedLine[] = [];
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const piece = text.slice(start, nl);
      start = nl + 1;
      this.lineNo++;
      if (this.dropping) {
        this.dropping = false;
        this.pending = '';
        out.push({ kind: 'garbage', text: '', line: this.lineNo, reason: `line longer than ${this.maxLine} characters dropped` });
        continue;
      }
      const line = this.pending.length ? this.pending + piece : piece;
      this.pending = '';
      const p = this.parseLine(line);
      if (p) out.push(p);
    }
    if (start < text.length) {
      if (!this.dropping) {
        this.pending += text.slice(start);
        if (this.pending.length > this.maxLine) { this.dropping = true; this.pending = ''; }
      }
    }
    return out;
  }

  /** The stream ended: parse an unterminated last line, if any. */
  end(): ParsedLine[] {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    if (this.dropping) { this.dropping = false; return [{ kind: 'garbage', text: '', line: ++this.lineNo, reason: 'overlong last line dropped' }]; }
    if (!rest.length) return [];
    this.lineNo++;
    const p = this.parseLine(rest);
    return p ? [p] : [];
  }

  private parseLine(raw: string): ParsedLine | undefined {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (!line.trim().length) return undefined;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (e) {
      return { kind: 'garbage', text: line, line: this.lineNo, reason: `not JSON (${(e as Error).message})` };
    }
    const reason = checkEvent(v);
    if (reason) return { kind: 'garbage', text: line, line: this.lineNo, reason };
    return { kind: 'event', event: v as TrainerEvent, line: this.lineNo };
  }
}
