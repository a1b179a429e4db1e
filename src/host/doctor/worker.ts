/**
 * The run doctor in a worker thread (bundled as dist/doctor-worker.js; src/host/diagnosis.ts starts it): a big run's
 * doctor (every metric line of a 100k-step run, rollout steps of a 10 GB run, the timeline's replays: seconds of CPU)
 * never runs on the extension host's thread, so views and requests never wait for it. One incremental DoctorLoader and
 * DoctorTimeline per run, as in the host; messages are answered one at a time, in order.
 * In: { id, dir, thresholds }. Out: { id, findings } (displayFindings: what the tree and the dashboard show) or { id, error }.
 */
import { parentPort } from 'worker_threads';
import { DoctorLoader } from '../../doctor/load';
import { DoctorTimeline } from '../../doctor/timeline';
import type { Finding } from '../../doctor/types';
import { displayFindings } from './display';

const runs = new Map<string, { l: DoctorLoader; t: DoctorTimeline; key?: string; findings?: Finding[] }>();

parentPort?.on('message', (m: { id: number; dir: string; thresholds: Record<string, unknown> }) => {
  try {
    let r = runs.get(m.dir);
    if (!r) { r = { l: new DoctorLoader(m.dir), t: new DoctorTimeline() }; runs.set(m.dir, r); }
    const changed = r.l.update();
    const key = JSON.stringify(m.thresholds ?? {});
    if (changed || !r.findings || r.key !== key) {
      r.findings = displayFindings(r.l.input, r.t.update(r.l.input, m.thresholds, { remember: r.l.input.status === 'running' }).findings);
      r.key = key;
    }
    parentPort!.postMessage({ id: m.id, findings: r.findings });
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message });
  }
});
