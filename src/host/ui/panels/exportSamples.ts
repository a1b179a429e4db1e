/**
 * "Export visible samples" of the heatmap (`samples/export`): the chosen samples of one step as JSONL, one object per
 * line, read from the run folder by the host (the webview only names the step and the sample indices). Pure (no
 * `vscode`, no `fs`): requests.ts reads the step and writes the file through the panel's save dialog.
 */
import { sampleArray, type RolloutStep } from '../../../shared/rolloutStep';

export interface ExportedSample {
  run: string;
  step: number;
  sample: number;
  group: string;
  prompt: string;
  answer?: string;
  completion: string;
  reward: number;
  rewardParts?: Record<string, number>;
  /** the stored sequence advantage, else the mean of the stored per-token advantage over valid tokens */
  advantage?: number;
  length: number;
  truncated: boolean;
  tokens: string[];
}

function meanAdvantage(step: RolloutStep, i: number): number | undefined {
  const a = sampleArray(step, i, 'advantage');
  if (!a) return undefined;
  const m = sampleArray(step, i, 'mask');
  let s = 0, c = 0;
  for (let t = 0; t < a.length; t++) if ((!m || m[t] > 0) && Number.isFinite(a[t])) { s += a[t]; c++; }
  return c ? s / c : undefined;
}

/** The samples `indices` of `step` (in that order; unknown indices are skipped) as export records. */
export function exportRecords(run: string, step: RolloutStep, indices: readonly number[]): ExportedSample[] {
  const groups = new Map(step.header.groups.map((g) => [g.id, g]));
  const out: ExportedSample[] = [];
  for (const i of indices) {
    const s = step.samples[i];
    if (!Number.isInteger(i) || !s) continue;
    const adv = typeof s.advantage === 'number' ? s.advantage : meanAdvantage(step, i);
    const answer = groups.get(s.group)?.answer;
    out.push({
      run, step: step.header.step, sample: i, group: s.group, prompt: s.prompt, ...(answer !== undefined ? { answer } : {}),
      completion: s.completion, reward: s.reward, ...(s.rewardParts ? { rewardParts: s.rewardParts } : {}),
      ...(adv !== undefined ? { advantage: adv } : {}), length: s.length, truncated: !!s.truncated, tokens: s.tokens,
    });
  }
  return out;
}

/** JSONL text: one record per line, newline-terminated. */
export function toJsonl(records: readonly object[]): string {
  return records.map((r) => JSON.stringify(r)).join('\n') + (records.length ? '\n' : '');
}
