/** Text of the RL Lens status bar item (pure, unit-tested). */
import { fmtNum } from './runsTreeModel';

export interface StatusInfo {
  name: string;
  status: string;
  step?: number;
  totalSteps?: number;
  /** the headline metric (reward for RL, margin / accuracy for preference runs, else loss) */
  headline?: { short: string; value: number };
  tokensPerS?: number;
  backend?: string;
  /** work before the first step, e.g. "warm start 120/400" */
  phase?: string;
}

/** Pure text of the status bar item (unit-testable). */
export function statusText(s: StatusInfo): string {
  // an imported run is never shown as a running trainer: 'following' (this window follows its source) / 'imported'
  const icon = s.status === 'running' ? '$(sync~spin)' : s.status === 'following' ? '$(eye)' : s.status === 'imported' ? '$(history)'
    : s.status === 'failed' ? '$(error)' : s.status === 'stopped' ? '$(debug-stop)' : '$(pass)';
  const parts = [`${icon} RL Lens`];
  if (s.phase) parts.push(s.phase);
  else if (s.step !== undefined) parts.push(s.totalSteps ? `${s.step}/${s.totalSteps}` : `step ${s.step}`);
  if (s.headline) parts.push(`${s.headline.short} ${fmtNum(s.headline.value, 3)}`);
  if (s.tokensPerS !== undefined) parts.push(`${s.tokensPerS >= 1000 ? `${(s.tokensPerS / 1000).toFixed(1)}k` : Math.round(s.tokensPerS)} tok/s`);
  if (s.backend) parts.push(s.backend);
  return parts.join(' · ');
}

