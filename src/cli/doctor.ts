/**
 * `rl-lens doctor RUN_DIR [--json] [--threshold group.name=value ...] [--only check,check]`
 * Prints the run doctor's findings. Exit code: 1 when a finding is at error level, 0 otherwise, 2 on a usage error
 * or an unreadable run folder. Imported runs work once converted (`rl-lens import`).
 */
import * as path from 'path';
import { flattenThresholds, unflattenThresholds, resolveThresholds, worstSeverity, CHECKS, type Finding, type CheckName } from '../doctor';
import { loadDoctorInput } from '../doctor/load';
import { diagnoseTimeline, historyLine } from '../doctor/timeline';
import { dataSummary, doctorReport, noDataMessage, shortHistoryMessage } from '../doctor/report';

const USAGE = `usage: rl-lens doctor RUN_DIR [--json] [--threshold NAME=VALUE ...] [--only CHECK[,CHECK...]]
  Diagnoses RL fine-tuning pathologies in a run folder (docs/doctor.md).
  --json                 print the report as JSON (schemas/doctor-report.schema.json)
  --threshold NAME=VALUE override a threshold, e.g. --threshold kl.warn=1 (names: docs/doctor.md)
  --only CHECKS          run only these checks: ${CHECKS.map((c) => c.name).join(', ')}
  Every finding the doctor raised at any point of the run is listed, with when it was raised and whether it is
  still present or resolved (the doctor replays itself on the data as it stood at checkpoint steps).
  exit code: 1 if any finding is an error (active or resolved) or the run holds no data, 0 otherwise, 2 on usage errors
`;

export async function run(argv: string[]): Promise<number> {
  let dir: string | undefined;
  let json = false;
  const over: Record<string, number> = {};
  let only: CheckName[] | undefined;
  const known = flattenThresholds();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') json = true;
    else if (a === '--help' || a === '-h') { process.stdout.write(USAGE); return 0; }
    else if (a === '--threshold' || a.startsWith('--threshold=')) {
      const kv = a === '--threshold' ? argv[++i] : a.slice('--threshold='.length);
      const m = /^([\w.]+)=(.+)$/.exec(kv ?? '');
      if (!m || !(m[1] in known) || !Number.isFinite(Number(m[2]))) {
        process.stderr.write(`rl-lens doctor: bad --threshold ${JSON.stringify(kv ?? '')}: expected NAME=NUMBER with NAME one of ${Object.keys(known).join(', ')}\n`);
        return 2;
      }
      over[m[1]] = Number(m[2]);
    } else if (a === '--only' || a.startsWith('--only=')) {
      const v = a === '--only' ? argv[++i] : a.slice('--only='.length);
      const names = (v ?? '').split(',').filter(Boolean);
      const bad = names.filter((n) => !CHECKS.some((c) => c.name === n));
      if (!names.length || bad.length) { process.stderr.write(`rl-lens doctor: unknown check(s) ${bad.join(', ') || '(none given)'}; known: ${CHECKS.map((c) => c.name).join(', ')}\n`); return 2; }
      only = names as CheckName[];
    } else if (a.startsWith('-')) { process.stderr.write(`rl-lens doctor: unknown option ${a}\n${USAGE}`); return 2; }
    else if (!dir) dir = a;
    else { process.stderr.write(`rl-lens doctor: one RUN_DIR only (got ${dir} and ${a})\n${USAGE}`); return 2; }
  }
  if (!dir) { process.stderr.write(USAGE); return 2; }
  let loaded;
  try { loaded = loadDoctorInput(path.resolve(dir)); } catch (e) {
    process.stderr.write(`rl-lens doctor: ${(e as Error).message}\n`);
    return 2;
  }
  const user = unflattenThresholds(over);
  const th = resolveThresholds(user);
  const t = diagnoseTimeline(loaded.input, user, { only });
  const report = doctorReport(dir, loaded.input, t, loaded.problems, th);
  if (json) {
    process.stdout.write(JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  } else {
    process.stdout.write(formatFindings(dir, loaded.input, t.findings, loaded.problems.length, t.checkpoints, th.minSteps));
  }
  return report.verdict === 'no-data' || worstSeverity(t.findings) === 'error' ? 1 : 0;
}

const MARK = { error: 'ERROR', warning: 'WARN ', info: 'info ' } as const;

export function formatFindings(dir: string, input: Parameters<typeof dataSummary>[0], findings: Finding[], problems = 0, checkpoints: number[] = [], minSteps?: number): string {
  const lines: string[] = [];
  const d = dataSummary(input, checkpoints, minSteps !== undefined ? { minSteps } : undefined);
  const range = d.firstStep !== null ? `, steps ${d.firstStep}–${d.lastStep}` : '';
  lines.push(`rl-lens doctor: ${dir} (${input.algorithm ?? 'unknown algorithm'}; ${d.metrics} metrics, ${input.rollouts.length} rollout steps, ${input.evals.length} evals${range}${problems ? `; ${problems} unreadable lines skipped` : ''})`);
  if (d.partial) lines.push(`partial run: ${d.partial}`);
  if (d.empty) { lines.push(noDataMessage(d)); return lines.join('\n') + '\n'; }
  const short = d.trend && !d.trend.ran ? shortHistoryMessage(d.trend, d) : undefined;
  if (!findings.length) {
    lines.push(short ? `too little data: ${short}; they found nothing. This is not a healthy verdict.`
      : `no problems found (the doctor replayed itself at ${checkpoints.length} steps up to step ${d.lastStep})`);
    return lines.join('\n') + '\n';
  }
  if (short) lines.push(`too little data for trends: ${short}.`);
  for (const f of findings) {
    lines.push('');
    const resolved = f.history?.status === 'resolved';
    lines.push(`${MARK[f.severity]} ${f.title}${resolved ? ' (resolved)' : ''}  [${f.id}, steps ${f.stepRange[0]}–${f.stepRange[1]}]`);
    if (f.history) lines.push(`      ${historyLine(f)}${resolved ? ` (what it said at step ${f.history.asOfStep}:)` : ''}`);
    lines.push(`      ${f.message}`);
    for (const e of (f.episodes ?? []).slice(0, 5)) lines.push(`      episode: steps ${e.start}–${e.end}, peak ${Number(e.peak.value.toPrecision(4))} at step ${e.peak.step}, ${e.recovered ? 'recovered' : 'not recovered'}`);
    if (f.evidence.metrics?.length) lines.push(`      evidence: ${f.evidence.metrics.join(', ')}${f.evidence.samples?.length ? `; samples ${f.evidence.samples.slice(0, 5).map((s) => `${s.step}#${s.sample}`).join(', ')}` : ''}${f.evidence.groups?.length ? `; groups ${f.evidence.groups.slice(0, 5).map((g) => `${g.step}/${g.group}`).join(', ')}` : ''}`);
    lines.push(`      fix: ${f.remedy}`);
  }
  const n = (s: string) => findings.filter((f) => f.severity === s).length;
  const r = findings.filter((f) => f.history?.status === 'resolved').length;
  lines.push('');
  lines.push(`${n('error')} error(s), ${n('warning')} warning(s), ${n('info')} info${r ? ` (${r} resolved before the last step)` : ''}`);
  return lines.join('\n') + '\n';
}
