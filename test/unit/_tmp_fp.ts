import { diagnoseTimeline } from '../../src/doctor/timeline';
import { synthRun } from './doctor-synth';
let runs = 0, flagged = 0, info = 0; const hits: string[] = [];
const t0 = Date.now();
for (const algorithm of ['grpo', 'ppo'] as const) for (const noise of [1, 2]) for (let seed = 1000; seed < 1012; seed++) {
  runs++;
  const r = diagnoseTimeline(synthRun(seed, 'healthy', { algorithm, noise, groups: 8, rolloutEvery: 4 }).input);
  const bad = r.findings.filter((f) => f.severity !== 'info');
  info += r.findings.length - bad.length;
  if (bad.length) { flagged++; hits.push(`${algorithm} ${noise} ${seed}: ${bad.map((f) => f.id + '@' + f.history!.raisedAt + '-' + (f.history!.resolvedAt ?? 'now') + ' ' + f.message.slice(0, 200)).join(' | ')}`); }
}
console.log(`${flagged}/${runs} flagged, ${info} info, ${(Date.now() - t0) / runs} ms/run`);
console.log(hits.join('\n'));
