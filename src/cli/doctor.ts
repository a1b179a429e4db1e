/**
 * `rl-lens doctor RUN_DIR [--json] [--threshold group.name=value ...] [--only check,check]`
 * Prints the run doctor's findings. Exit code: 1 when a finding is at error level, 0 otherwise, 2 on a usage error
 * or an unreadable run folder. Imported runs work once converted (`rl-lens import`).
 */
import * as path from 'path';
import { diagnose, flattenThresholds, unflattenThresholds, worstSeverity, CHECKS, type Finding, type CheckName } from '../doctor';
import { loadDoctorInput } from '../doctor/load';

const USAGE = `usage: rl-lens doctor RUN_DIR [--json] [--threshold NAME=VALUE ...] [--only CHECK[,CHECK...]]
  Diagnoses RL fine-tuning pathologies in a run folder (docs/doctor.md).
  --json                 print {run, findings, problems} as JSON
  --threshold NAME=VALUE override a threshold, e.g. --threshold kl.warn=1 (names: docs/doctor.md)
  --only CHECKS          run only these checks: ${CHECKS.map((c) => c.name).join(', ')}
  exit code: 1 if any finding is an error, 0 otherwise, 2 on usage errors
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
  const findings = diagnose(loaded.input, unflattenThresholds(over), { only });
  if (json) {
    process.stdout.write(JSON.stringify({ run: dir, runId: loaded.input.runId, algorithm: loaded.input.algorithm, findings, problems: loaded.problems }, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  } else {
    process.stdout.write(formatFindings(dir, loaded.input, findings, loaded.problems.length));
  }
  return worstSeverity(findings) === 'error' ? 1 : 0;
}

const MARK = { error: 'ERROR', warning: 'WARN ', info: 'info ' } as const;

export function formatFindings(dir: string, input: { runId?: string; algorithm?: string; metrics: Record<string, unknown>; rollouts: unknown[]; evals: unknown[] }, findings: Finding[], problems = 0): string {
  const lines: string[] = [];
  lines.push(`rl-lens doctor: ${dir} (${input.algorithm ?? 'unknown algorithm'}; ${Object.keys(input.metrics).length} metrics, ${input.rollouts.length} rollout steps, ${input.evals.length} evals${problems ? `; ${problems} unreadable lines skipped` : ''})`);
  if (!findings.length) { lines.push('no problems found'); return lines.join('\n') + '\n'; }
  for (const f of findings) {
    lines.push('');
    lines.push(`${MARK[f.severity]} ${f.title}  [${f.id}, steps ${f.stepRange[0]}–${f.stepRange[1]}]`);
    lines.push(`      ${f.message}`);
    if (f.evidence.metrics?.length) lines.push(`      evidence: ${f.evidence.metrics.join(', ')}${f.evidence.samples?.length ? `; samples ${f.evidence.samples.slice(0, 5).map((s) => `${s.step}#${s.sample}`).join(', ')}` : ''}${f.evidence.groups?.length ? `; groups ${f.evidence.groups.slice(0, 5).map((g) => `${g.step}/${g.group}`).join(', ')}` : ''}`);
    lines.push(`      fix: ${f.remedy}`);
  }
  const n = (s: string) => findings.filter((f) => f.severity === s).length;
  lines.push('');
  lines.push(`${n('error')} error(s), ${n('warning')} warning(s), ${n('info')} info`);
  return lines.join('\n') + '\n';
}
