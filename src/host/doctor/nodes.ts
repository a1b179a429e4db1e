/** Tree children of a run's "Diagnosis" node (pure; the views turn them into TreeItems). */
import type { Finding } from '../../doctor/types';
import { evidenceCommand } from './evidence';

/** Tree children of a run's "Diagnosis" node as plain descriptors (label, severity icon, step range, evidence command). */
export function createDiagnosisNodes(runDir: string, findings: Finding[]): { id: string; label: string; description: string; tooltip: string; icon: { id: string; color?: string }; command: { command: string; title: string; args: unknown[] } }[] {
  const ICON = { error: { id: 'error', color: 'problemsErrorIcon.foreground' }, warning: { id: 'warning', color: 'problemsWarningIcon.foreground' }, info: { id: 'info', color: 'problemsInfoIcon.foreground' } };
  return findings.map((f, i) => {
    const c = evidenceCommand(runDir, f);
    return {
      id: `finding:${runDir}:${f.id}:${i}`, label: f.title, description: `steps ${f.stepRange[0]}–${f.stepRange[1]}`,
      tooltip: `**${f.title}** (${f.severity})\n\n${f.message}\n\n**What usually fixes it:** ${f.remedy}`,
      icon: ICON[f.severity], command: { command: c.command, title: c.title, args: c.args },
    };
  });
}
