/**
 * The DELTA experiment's reward schedule (Sun, Cao, Huang, Bai, Hajishirzi, Dziri & Song 2025,
 * arXiv 2509.21016, "RL Grokking Recipe"; code sunblaze-ucb/rl-grok-recipe): can RL learn what the base model never
 * finds (pass@K = 0)? docs/references.md#delta; the survey's 顿悟式跃迁 section.
 *
 * Two-phase reward (the paper's blog / README: "binary-only gets stuck; dense-only hovers at almost right"):
 *   phase 1, dense    partial credit per test case: r_dense = (#test cases passed) / (#test cases), so a policy whose
 *                     binary reward is 0 on every sample still gets a gradient;
 *   phase 2, binary   r_bin = 1 if every test case passes, else 0 ("all right or nothing").
 * The switch is a step schedule: dense for steps 1 … denseUntil, binary from denseUntil + 1 on (rl.rewardSchedule).
 * Here a "test case" is one position of the answer (tasks/delta.ts: each digit of the shifted string is checked on its
 * own), the exact analogue of unit tests of a program.
 */

/** The test cases of an answer: position i right (one per position of `want`, left aligned), then the length right. */
export function deltaTestCases(got: string, want: string): boolean[] {
  return [...Array.from(want).map((c, i) => got[i] === c), got.length === want.length];
}

/** Dense reward: the share of test cases passed, in [0, 1]. `passed[i]` = test case i passed. No test cases → 0. */
export function denseTestCaseReward(passed: readonly boolean[]): number {
  if (!passed.length) return 0;
  return passed.filter(Boolean).length / passed.length;
}

/** Binary reward: 1 when every test case passes (and there is at least one), else 0. */
export function binaryTestCaseReward(passed: readonly boolean[]): number {
  return passed.length > 0 && passed.every(Boolean) ? 1 : 0;
}

/** The phase at `step` (1-based optimizer step): dense while step ≤ denseUntil; denseUntil null = binary throughout. */
export function deltaRewardPhase(step: number, denseUntil: number | null): 'dense' | 'binary' {
  return denseUntil !== null && step <= denseUntil ? 'dense' : 'binary';
}

/**
 * The scheduled reward of one sample from its named reward parts: parts[densePart] in the dense phase,
 * parts[binaryPart] in the binary phase. Throws naming the missing part (the task must report both).
 */
export function scheduledReward(parts: Readonly<Record<string, number>>, step: number, o: { denseUntil: number | null; densePart: string; binaryPart: string }): number {
  const phase = deltaRewardPhase(step, o.denseUntil);
  const name = phase === 'dense' ? o.densePart : o.binaryPart;
  const v = parts[name];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new Error(`rl.rewardSchedule.${phase === 'dense' ? 'densePart' : 'binaryPart'}: the task reports no reward part ${JSON.stringify(name)} (parts: ${Object.keys(parts).join(', ') || 'none'}); name one of its parts, e.g. task "delta-shift" reports "dense" and "accuracy"`);
  }
  return v;
}
