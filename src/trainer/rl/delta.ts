/**
 * The DELTA dense → binary reward schedule applied to a task (algorithms/delta.ts has the rule): the score the
 * advantage uses is the task's `densePart` up to step rl.rewardSchedule.denseUntil and its `binaryPart` after; the
 * parts, and `correct` (pass@k), are the task's own. The run logs `reward/schedule_dense` (1 dense, 0 binary) each
 * step and a line at the switch; the doctor's reward check turns the switch into a dashboard annotation.
 */
import { deltaRewardPhase, scheduledReward } from '../algorithms/delta';
import type { RlConfig } from './config';
import type { RlTask } from './types';

/** The task whose reward is scheduled for `step`; the task itself when no schedule is set (denseUntil null). */
export function withRewardSchedule(task: RlTask, cfg: Pick<RlConfig, 'rewardSchedule'>, step: number): RlTask {
  const rs = cfg.rewardSchedule;
  if (!rs || rs.denseUntil === null) return task;
  return {
    name: task.name,
    sampleTrain: (rng) => task.sampleTrain(rng),
    evalItems: (n) => task.evalItems(n),
    reward: (item, completion, finished) => {
      const r = task.reward(item, completion, finished);
      return { ...r, score: scheduledReward(r.parts, step, rs) };
    },
  };
}

/** Step metrics of the schedule: reward/schedule_dense = 1 in the dense phase, 0 in the binary phase (absent without a schedule). */
export function rewardScheduleMetrics(cfg: Pick<RlConfig, 'rewardSchedule'>, step: number): Record<string, number> {
  const rs = cfg.rewardSchedule;
  if (!rs || rs.denseUntil === null) return {};
  return { 'reward/schedule_dense': deltaRewardPhase(step, rs.denseUntil) === 'dense' ? 1 : 0 };
}
