/**
 * GHPO: Guided Hybrid Policy Optimization (Liu, Gong, Fu, Liu, Chen, Hu, Zhang, Liu, Zhang, Tu; arXiv 2507.10628,
 * "GHPO: Adaptive Guidance for Stable and Efficient LLM Reinforcement Learning"; code github.com/hkgc-1/GHPO,
 * src/ghpo/ghpo_trainer.py `_generate_and_score_completions`; docs/references.md#ghpo).
 *
 * Two modules, as the paper names them:
 *   automated difficulty detection   a prompt is "too hard" when every one of its G samples fails: all accuracy
 *                                    rewards ≤ 0 (the authors' code: `all(accuracy_reward[x:x+G] <= 0)`);
 *   adaptive prompt refinement       such a prompt is regenerated (the whole group, G new samples) with the first
 *                                    ω of the reference solution appended as a hint, ω growing in stages
 *                                    ω ∈ {0.25, 0.5, 0.75} (the code's inputs_hint_25 / _50 / _75): a group that
 *                                    still fails with ω = 0.25 gets ω = 0.5, then 0.75. The hint is
 *                                    solution[: round(len(solution) · ω)] with Python's round (half to even).
 * Hybrid: prompts the policy can solve are trained by plain on-policy RL (GRPO); prompts beyond it become guided
 * (imitation of the solution's beginning, which sits in the prompt, then RL on the continuation). The GRPO loss is
 * unchanged: the hinted samples enter the group advantage like any other. Hints start at step `startStep`
 * (the code's start_hint_step). The code's distributed-sync trick (regenerating the first group without a hint when no
 * group failed, so that every process calls generate) is not needed in one process and is left out.
 */

/** The hint ratios of the authors' code (inputs_hint_25, _50, _75). */
export const GHPO_HINT_RATIOS: readonly number[] = [0.25, 0.5, 0.75];

/** Python's round(x): nearest integer, ties to even (round(0.5) = 0, round(1.5) = 2, round(2.5) = 2). */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The hint at ratio ω: the first round(len · ω) characters of the reference solution. */
export function ghpoHint(solution: string, omega: number): string {
  if (!(omega >= 0 && omega <= 1)) throw new Error(`ghpo: hint ratio must be in [0, 1], got ${omega}`);
  return solution.slice(0, roundHalfEven(solution.length * omega));
}

/** Automated difficulty detection: true when every sample of the group failed (all accuracy rewards ≤ 0). */
export function ghpoAllWrong(accuracy: readonly number[]): boolean {
  return accuracy.length > 0 && accuracy.every((a) => a <= 0);
}

/**
 * The whole adaptive prompt refinement of one prompt, as plain numbers: `stageAccuracies[0]` are the accuracies of the
 * unhinted group, `stageAccuracies[k]` those of the group regenerated with hint ratio ratios[k − 1]. Returns the stage
 * whose group is kept (0 = no hint), its ω (0 without a hint) and the hint. Stages past the first success (or past the
 * last ratio) are never generated, so entries for them are ignored.
 */
export function ghpoRefinement(solution: string, stageAccuracies: readonly (readonly number[])[], ratios: readonly number[] = GHPO_HINT_RATIOS): { stage: number; omega: number; hint: string } {
  // stage s + 1 is generated only when stage s's group failed entirely; the last generated stage's group is kept
  let stage = 0;
  while (stage < ratios.length && stage < stageAccuracies.length && ghpoAllWrong(stageAccuracies[stage])) stage++;
  const omega = stage === 0 ? 0 : ratios[stage - 1];
  return { stage, omega, hint: stage === 0 ? '' : ghpoHint(solution, omega) };
}
