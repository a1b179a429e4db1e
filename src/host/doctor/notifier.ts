/**
 * Notify-once policy for live runs (pure): a finding id is announced at most once per run; at most `maxPerWindow`
 * notifications per run in any `windowMs`, the rest are folded into one "N more findings" count; info findings (or
 * anything under `minSeverity`) never notify. A finding that escalates (warning → error) is announced again, once.
 */
import type { Finding, Severity } from '../../doctor/types';

const RANK: Record<Severity, number> = { info: 0, warning: 1, error: 2 };

export interface NotifierOptions { maxPerWindow?: number; windowMs?: number; minSeverity?: Severity }

export interface NotifyDecision {
  /** findings to announce now, most severe first */
  notify: Finding[];
  /** new findings not announced individually (rate limit): announce as "and N more" or not at all */
  folded: number;
}

export class FindingNotifier {
  private readonly seen = new Map<string, Map<string, Severity>>();
  private readonly sent = new Map<string, number[]>();
  private readonly max: number;
  private readonly windowMs: number;
  private readonly min: Severity;

  constructor(o: NotifierOptions = {}) {
    this.max = o.maxPerWindow ?? 2;
    this.windowMs = o.windowMs ?? 60_000;
    this.min = o.minSeverity ?? 'warning';
  }

  decide(run: string, findings: Finding[], now = Date.now()): NotifyDecision {
    const seen = this.seen.get(run) ?? new Map<string, Severity>();
    this.seen.set(run, seen);
    const fresh = findings
      .filter((f) => RANK[f.severity] >= RANK[this.min])
      .filter((f) => { const s = seen.get(f.id); return s === undefined || RANK[f.severity] > RANK[s]; })
      .sort((a, b) => RANK[b.severity] - RANK[a.severity]);
    for (const f of fresh) seen.set(f.id, f.severity);
    const times = (this.sent.get(run) ?? []).filter((t) => now - t < this.windowMs);
    const room = Math.max(0, this.max - times.length);
    const notify = fresh.slice(0, room);
    for (let i = 0; i < notify.length; i++) times.push(now);
    this.sent.set(run, times);
    return { notify, folded: fresh.length - notify.length };
  }

  /** Forget a run (deleted, or its findings reset). */
  forget(run: string): void { this.seen.delete(run); this.sent.delete(run); }
}
