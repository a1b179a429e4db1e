/**
 * The run doctor in a worker thread (bundled as dist/doctor-worker.js; src/host/diagnosis.ts starts it): a big run's
 * doctor (every metric line of a 100k-step run, rollout steps of a 10 GB run, the timeline's replays: seconds of CPU)
 * never runs on the extension host's thread, so views and requests never wait for it. One incremental DoctorLoader and
 * DoctorTimeline per run, as in the host; messages are answered one at a time, in order.
 * In: { id, dir, thresholds }. Out: { id, findings } (displayFindings: what the tree and the dashboard show) or { id, error }.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';
import { parentPort } from 'worker_threads';
import { FILES } from '../../shared/runFormat';
import { DoctorLoader } from '../../doctor/load';
import { DoctorTimeline } from '../../doctor/timeline';
import type { Finding } from '../../doctor/types';
import { displayFindings } from './display';

/** Per run: a live run's loader and timeline (read incrementally), or, for a run that has ended, only its findings and
 *  its files' signature: an ended run's metrics and step summaries are not held (a 100k-step run's are ~100 MB). */
const runs = new Map<string, { l?: DoctorLoader; t?: DoctorTimeline; key?: string; findings?: Finding[]; sig?: string }>();

/**
 * A full garbage collection of this thread, run after the load and after each of the timeline's replays: a replay
 * diagnoses a truncated copy of the run, and without it their garbage grows the heap (a 40-metric × 100k-step run:
 * 612 MB peak without, 311 MB with, +5 % time; a 10 GB run: 222 → 170 MB). V8's `gc`, exposed for contexts made after
 * the flag is set; undefined where that is refused.
 */
const gc = ((): (() => void) | undefined => {
  try { v8.setFlagsFromString('--expose-gc'); const f = vm.runInNewContext('gc'); return typeof f === 'function' ? f as () => void : undefined; } catch { return undefined; }
})();

/** Sizes and mtimes of what the doctor reads (the manifest, the logs, the step index and the rollouts folder). */
function signature(dir: string): string {
  return [FILES.manifest, FILES.metrics, FILES.eval, FILES.events, FILES.rolloutIndex, FILES.rolloutsDir].map((f) => {
    try { const st = fs.statSync(path.join(dir, f)); return `${st.size}:${st.mtimeMs}`; } catch { return '-'; }
  }).join('|');
}

parentPort?.on('message', (m: { id: number; dir: string; thresholds: Record<string, unknown> }) => {
  try {
    const key = JSON.stringify(m.thresholds ?? {});
    let r = runs.get(m.dir);
    // an ended run asked again: its findings while nothing changed, else read again from the start
    if (r && !r.l && r.findings && r.key === key && r.sig === signature(m.dir)) { parentPort!.postMessage({ id: m.id, findings: r.findings }); return; }
    if (!r || !r.l || !r.t) { r = { l: new DoctorLoader(m.dir), t: new DoctorTimeline() }; runs.set(m.dir, r); }
    const l = r.l!, t = r.t!;
    const sig = signature(m.dir);
    const changed = l.update();
    gc?.();
    if (changed || !r.findings || r.key !== key) {
      r.findings = displayFindings(l.input, t.update(l.input, m.thresholds, { remember: l.input.status === 'running', between: gc }).findings);
      r.key = key;
    }
    if (l.input.status !== 'running') { r.sig = sig; r.l = undefined; r.t = undefined; gc?.(); }
    parentPort!.postMessage({ id: m.id, findings: r.findings });
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message });
  }
});
