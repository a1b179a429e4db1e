/**
 * How findings are shown in VS Code (pure), so that the Diagnosis node, the notifications and `rl-lens doctor` tell the
 * same story: every finding the doctor ever raised (src/doctor/timeline.ts), resolved ones marked as such with the step
 * they were raised and resolved at, and a "no data" notice instead of silence for a run with nothing to diagnose.
 */
import type { DoctorInput, Finding } from '../../doctor/types';
import { historyLine } from '../../doctor/timeline';
import { dataSummary, noDataMessage, shortHistoryMessage } from '../../doctor/report';

export const NO_DATA_ID = 'data/no-data';
/** the "too little history for trend checks" notice (info; never notifies) */
export const SHORT_HISTORY_ID = 'data/short-history';

/** Tree-ready copies: resolved findings titled "… (resolved by step t)", every message led by its history line;
 *  a run without data gets one warning-level "No data to diagnose" entry; a run with fewer steps than the trend checks
 *  need gets an info-level "Too little history" entry after its findings. */
export function displayFindings(input: DoctorInput, findings: Finding[]): Finding[] {
  const d = dataSummary(input);
  if (d.empty) {
    return [{
      id: NO_DATA_ID, check: 'data', kind: 'no-data', severity: 'warning', title: 'No data to diagnose', message: noDataMessage(d),
      stepRange: [0, 0], evidence: {},
      remedy: 'Wait for the run to log metrics or rollouts; for an imported run, check the source files (a truncated or empty log converts to an empty run).',
    }];
  }
  const shown = findings.map((f) => {
    const h = f.history;
    if (!h) return f;
    const resolved = h.status === 'resolved';
    return {
      ...f,
      title: resolved ? `${f.title} (resolved by step ${h.resolvedAt})` : f.title,
      message: `${capitalize(historyLine(f))}${resolved ? ` (as of step ${h.asOfStep})` : ''}. ${f.message}`,
    };
  });
  // too few steps for the trend checks: say so (never an empty Diagnosis node that reads as "no problems found")
  if (d.trend && !d.trend.ran) {
    shown.push({
      id: SHORT_HISTORY_ID, check: 'data', kind: 'short-history', severity: 'info', title: `Too little history for trend checks (${d.trend.points} of ${d.trend.minPoints} steps)`,
      message: `${capitalize(shortHistoryMessage(d.trend, d))}.${findings.length ? '' : ' They found nothing; this is not a healthy verdict.'}`,
      stepRange: [d.firstStep ?? 0, d.lastStep ?? 0], evidence: {},
      remedy: 'Wait for more logged steps (a TRL run logs every `logging_steps`; log more often to see trends sooner).',
    });
  }
  return shown;
}

/** The live notification's text for a finding (same facts as the tree and the CLI). */
export function notificationText(runName: string, f: Finding): string {
  const h = f.history;
  const when = h ? `raised at step ${h.raisedAt}` : `steps ${f.stepRange[0]}–${f.stepRange[1]}`;
  return `RL Lens doctor: ${runName}: ${f.title} (${when}; steps ${f.stepRange[0]}–${f.stepRange[1]})`;
}

/** Findings that may raise a notification: active ones only (a resolved finding was announced when it was raised),
 *  never the no-data notice. */
export function notifiable(findings: Finding[]): Finding[] {
  return findings.filter((f) => f.id !== NO_DATA_ID && f.id !== SHORT_HISTORY_ID && f.history?.status !== 'resolved');
}

function capitalize(s: string): string { return s ? s[0].toUpperCase() + s.slice(1) : s; }
