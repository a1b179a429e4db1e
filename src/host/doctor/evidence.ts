/**
 * Where a finding's evidence is shown (pure; the host executes the command). Samples → the token heatmap of that step
 * with those samples first; groups → the group view; otherwise the dashboard with the finding's metrics and step range
 * highlighted. Arguments are plain objects so webviews / commands can take them as they are.
 */
import type { Finding } from '../../doctor/types';

export interface EvidenceCommand {
  command: 'rlLens.showHeatmap' | 'rlLens.showGroup' | 'rlLens.showDashboard';
  title: string;
  args: [Record<string, unknown>];
}

/** Token-level metric that best shows a finding in the heatmap. */
export function heatmapMetricFor(f: Finding): string {
  switch (f.check) {
    case 'entropy': case 'mode-collapse': return 'entropy';
    case 'clip': return f.id === 'clip/ratio-outliers' ? 'ratio' : 'clip';
    case 'kl': case 'beta': return 'kl';
    case 'critic': return 'value';
    case 'reward-hacking': case 'length': return 'token_reward';
    default: return 'advantage';
  }
}

/** The finding's metric names as the dashboard names its series: metrics.jsonl keys as they are, the doctor's
 *  `eval:pass@k` as `eval/pass@k`; other derived names (`rollouts:…`) have no curve and are left out. */
export function dashboardMetrics(f: Finding): string[] {
  return (f.evidence?.metrics ?? []).map((m) => (/^eval:pass@\d+$/.test(m) ? m.replace(':', '/') : m)).filter((m) => !m.includes(':'));
}

export function evidenceCommand(runDir: string, f: Finding): EvidenceCommand {
  const ev = f.evidence ?? {};
  if (ev.samples?.length) {
    const step = ev.samples[ev.samples.length - 1].step;
    return {
      command: 'rlLens.showHeatmap', title: 'Show the samples behind this finding',
      args: [{ runDir, step, samples: ev.samples.filter((s) => s.step === step).map((s) => s.sample), metric: heatmapMetricFor(f), finding: f.id }],
    };
  }
  if (ev.groups?.length) {
    const g = ev.groups[0];
    return { command: 'rlLens.showGroup', title: 'Show the groups behind this finding', args: [{ runDir, step: g.step, group: g.group, groups: ev.groups, finding: f.id }] };
  }
  return {
    command: 'rlLens.showDashboard', title: 'Show the curves behind this finding',
    args: [{ runDir, finding: f.id, metrics: dashboardMetrics(f), step: f.stepRange[0], stepRange: f.stepRange }],
  };
}

/** Dashboard annotations: one band per finding over its step range, on the curves it names. */
export function dashboardAnnotations(findings: Finding[]): { id: string; severity: Finding['severity']; title: string; from: number; to: number; metrics: string[] }[] {
  return findings.map((f) => ({ id: f.id, severity: f.severity, title: f.title, from: f.stepRange[0], to: f.stepRange[1], metrics: dashboardMetrics(f) }));
}
