// Early warning: how many steps before the reward / eval drop the doctor raises its finding, per pathology, measured
// with the doctor's own replay (src/doctor/timeline.ts: the step a live run would have shown it; bisection pins it to
// the exact data step). Prints a table (docs/doctor.md, "Early warning" quotes it). False alarms are measured on the
// 48 healthy runs in doctor-healthy.test.ts (whole history replayed).
//
// Synthetic runs (doctor-synth.ts, 200 steps, pathology onset at step 80): entropy collapse and KL blow-up get a
// reward and eval fall that starts 60 steps after the onset (step 140, linear, −0.3 over 30 steps: the usual story,
// the policy degrades after it has collapsed / drifted); the drop step is the first step where the noise-free reward
// is 0.1 below its level before the fall (step 150). Reward hacking (eval-drop): the noise-free eval pass@1 falls from
// the onset on; its drop step is the first eval step 0.1 below the peak. Real run: the stored learned-reward run
// test/fixtures/doctor/rlhf-hacking (RM score rises, hidden true score falls): drop step = first step where the
// 10-point rolling median of reward/hidden_score/mean is 0.05 below its running maximum (the score is noisy, ±0.1).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { diagnoseTimeline } from '../../src/doctor/timeline';
import { loadDoctorInput } from '../../src/doctor/load';
import { rollingMedian } from '../../src/doctor/stats';
import type { DoctorInput } from '../../src/doctor/types';
import { synthRun, type Patho } from './doctor-synth';

const T = 200, ONSET = 80, FALL = 140, FALL_LEN = 30, FALL_BY = 0.3;
const fall = (t: number) => (t < FALL ? 0 : FALL_BY * Math.min(1, (t - FALL) / FALL_LEN));
const DROP = FALL + Math.round((0.1 / FALL_BY) * FALL_LEN); // first step 0.1 below: 150

function withFall(input: DoctorInput): DoctorInput {
  for (const name of ['reward/mean', 'reward/accuracy/mean']) {
    const s = input.metrics[name];
    s.values = s.values.map((v, i) => v - fall(s.steps[i]));
  }
  input.evals = input.evals.map((e) => ({ ...e, passAtK: { ...e.passAtK, '1': Math.max(0, e.passAtK['1'] - fall(e.step)) } }));
  return input;
}

interface Row { pathology: string; finding: string; seed: number; onset: number; raised?: number; drop: number; lead?: number }

test('lead time: findings are raised before the reward / eval drop (table printed)', () => {
  const rows: Row[] = [];
  // the earliest finding of the pathology's family counts (a "falling" / "growing" warning comes before "collapse" / "blow-up")
  const cases: { patho: Patho; finding: RegExp; fallInjected: boolean }[] = [
    { patho: 'entropy-collapse', finding: /^entropy\/(collapse|falling)$/, fallInjected: true },
    { patho: 'kl-blowup', finding: /^kl\/(blowup|growth)$/, fallInjected: true },
    { patho: 'eval-drop', finding: /^reward-hacking\//, fallInjected: false },
  ];
  const first = (fs: ReturnType<typeof diagnoseTimeline>['findings'], re: RegExp) => {
    const hits = fs.filter((x) => re.test(x.id) && x.history);
    if (!hits.length) return undefined;
    const best = hits.reduce((a, b) => (b.history!.raisedAt < a.history!.raisedAt ? b : a));
    return { id: best.id, raised: best.history!.raisedAt };
  };
  for (const c of cases) {
    for (const seed of [1, 2, 3]) {
      let input = synthRun(seed, c.patho, { groups: 8, rolloutEvery: 4, steps: T }).input;
      let drop = DROP;
      if (c.fallInjected) input = withFall(input);
      else {
        // noise-free eval pass@1 of the synth's eval-drop: acc(t) − 0.4·late(t) (doctor-synth.ts), evals every 10 steps
        const acc = (t: number) => 0.3 + 0.35 * (1 - Math.exp(-3 * t / T));
        const p1 = (t: number) => acc(t) - (t < ONSET ? 0 : 0.4 * (t - ONSET) / (T - ONSET));
        let peak = -Infinity;
        drop = NaN;
        for (let t = 0; t < T; t += 10) { peak = Math.max(peak, p1(t)); if (p1(t) <= peak - 0.1) { drop = t; break; } }
      }
      const f = first(diagnoseTimeline(input).findings, c.finding);
      const raised = f?.raised;
      rows.push({ pathology: c.patho, finding: f?.id ?? String(c.finding), seed, onset: ONSET, raised, drop, lead: raised !== undefined ? drop - raised : undefined });
    }
  }
  // real learned-reward run (stored fixture written by the RL Lens trainer)
  const { input } = loadDoctorInput(path.join(__dirname, '../fixtures/doctor/rlhf-hacking'));
  const hs = input.metrics['reward/hidden_score/mean'];
  const roll = rollingMedian(hs.values, 10);
  let runMax = -Infinity, realDrop = NaN;
  for (let i = 9; i < roll.length; i++) { runMax = Math.max(runMax, roll[i]); if (roll[i] <= runMax - 0.05) { realDrop = hs.steps[i]; break; } }
  const rf = first(diagnoseTimeline(input).findings, /^reward-hacking\//);
  rows.push({ pathology: 'rlhf-hacking (real run)', finding: rf?.id ?? 'reward-hacking/*', seed: 0, onset: NaN, raised: rf?.raised, drop: realDrop, lead: rf ? realDrop - rf.raised : undefined });

  console.log('pathology | finding | seed | onset | raised at | drop at | lead (steps)');
  for (const r of rows) console.log(`${r.pathology} | ${r.finding} | ${r.seed || '-'} | ${Number.isFinite(r.onset) ? r.onset : '-'} | ${r.raised ?? 'never'} | ${r.drop} | ${r.lead ?? '-'}`);
  const summary = new Map<string, number[]>();
  for (const r of rows) if (r.lead !== undefined) summary.set(r.pathology, [...(summary.get(r.pathology) ?? []), r.lead]);
  for (const [p, l] of summary) console.log(`lead time ${p}: median ${l.sort((a, b) => a - b)[l.length >> 1]} steps (${l.join(', ')})`);

  for (const r of rows) assert.ok(r.raised !== undefined, `${r.pathology} seed ${r.seed}: ${r.finding} never raised`);
  for (const r of rows.filter((x) => x.pathology === 'entropy-collapse' || x.pathology === 'kl-blowup')) {
    assert.ok(r.lead! > 0, `${r.pathology} seed ${r.seed}: raised at ${r.raised}, not before the drop at ${r.drop}`);
    assert.ok(r.raised! > r.onset, `${r.pathology} seed ${r.seed}: raised at ${r.raised}, before the pathology began (${r.onset})`);
  }
  assert.ok(Number.isFinite(realDrop), 'the real run\'s hidden score drops');
  // early warning (issue 17, E): the exponential-growth rule (kl/growth: log-KL doubling within kl.doublingSteps) warns
  // well before the blow-up (measured 49 steps; was 1–4 with the 20× head→tail rule alone), and the train-reward-up /
  // eval-not-up divergence (reward-hacking/divergence) is never later than the eval drop (measured 10, 0, 0; was −20, −10, 0)
  for (const r of rows.filter((x) => x.pathology === 'kl-blowup')) assert.ok(r.lead! >= 30, `kl-blowup seed ${r.seed}: lead ${r.lead} < 30`);
  for (const r of rows.filter((x) => x.pathology === 'eval-drop')) assert.ok(r.lead! >= 0, `eval-drop seed ${r.seed}: raised at ${r.raised}, after the eval drop at ${r.drop}`);
});
