/**
 * The headline numbers of a step's metrics, shared by the supervisor (notifications) and the host UI
 * (Runs tree, status bar). Host code: src/host/ui imports it, never the other way round.
 */

/** The headline number of a step's metrics: reward for RL, margin / accuracy for preference runs, else the loss. */
export function headline(m: Record<string, number | null> | undefined): { key: string; short: string; value: number } | undefined {
  if (!m) return undefined;
  for (const [key, short] of [['reward/mean', 'r'], ['rewards/margins', 'margin'], ['rm/accuracy', 'acc'], ['loss', 'loss']] as const) {
    const v = m[key];
    if (typeof v === 'number' && Number.isFinite(v)) return { key, short, value: v };
  }
  return undefined;
}
/** tokens per second under the names trainers use (`tokens_per_s`, `perf/tokens_per_sec`) */
export function tokensPerSecond(m: Record<string, number | null> | undefined): number | undefined {
  const v = m?.tokens_per_s ?? m?.['perf/tokens_per_sec'] ?? m?.tokens_per_sec ?? m?.['perf/tokens_per_s'];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
