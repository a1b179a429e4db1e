// Doctor annotations on the dashboard: the pure band geometry (src/webview/data/annotations.ts), the x zoom a finding's
// evidence asks for, and the protocol validation of `doctor/annotations`. Expected pixels are computed by hand in the
// comments (linear scale x(s) = r0 + (s − d0)·(r1 − r0)/(d1 − d0)); compared exactly up to 1e-9.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { annotationBands, bandsAt, focusDomain } from '../../src/webview/data/annotations';
import { annotationsError, parseHostMessage, type DashboardAnnotation } from '../../src/shared/protocol';
import { dashboardAnnotations, evidenceCommand } from '../../src/host/doctor/evidence';
import type { Finding } from '../../src/doctor/types';

const A = (id: string, severity: DashboardAnnotation['severity'], from: number, to: number, metrics: string[]): DashboardAnnotation => ({ id, severity, title: `title ${id}`, from, to, metrics });
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);

test('bands: step range → pixels on the charts of the metrics a finding names, clipped, narrow ranges widened, severe on top', () => {
  const anns = [
    A('a', 'warning', 20, 30, ['kl']),        // x(20) = 48 + 20·4 = 128, x(30) = 168 → [128, 168]
    A('b', 'error', 50, 50, ['entropy']),     // x(50) = 248, 0 px wide → 4 px centred: [246, 250]
    A('c', 'error', 10, 20, ['reward']),      // not on this chart → dropped
    A('d', 'info', 90, 130, ['kl']),          // x(90) = 408, x(130) = 568 → clipped to 448: [408, 448]
    A('e', 'error', 120, 140, ['kl']),        // right of the domain → dropped
    A('f', 'warning', -10, 5, ['x', 'kl']),   // x(−10) = 8 → clipped to 48, x(5) = 68: [48, 68]
  ];
  // domain [0, 100] steps on pixels [48, 448]: 4 px per step
  const b = annotationBands(anns, ['kl', 'entropy'], [0, 100], [48, 448]);
  assert.deepEqual(b.map((x) => x.id), ['d', 'a', 'f', 'b']); // info, warning, warning, error (stable within a severity)
  const want: Record<string, [number, number]> = { a: [128, 40], b: [246, 4], d: [408, 40], f: [48, 20] };
  for (const x of b) { close(x.x, want[x.id][0], `${x.id}.x`); close(x.width, want[x.id][1], `${x.id}.width`); }
  assert.equal(b.find((x) => x.id === 'b')!.title, 'title b');
  assert.deepEqual([b[0].from, b[0].to], [90, 130]);
  // zoomed in on steps [20, 30] over pixels [0, 100]: 10 px per step; a covers the whole chart, f (ends at 5) is gone
  const z = annotationBands(anns, ['kl'], [20, 30], [0, 100]);
  assert.deepEqual(z.map((x) => [x.id, x.x, x.width]), [['a', 0, 100]]);
  // minimum width option: a 0-step band at x(50) = 248 with minPx 10 → [243, 253]
  const m = annotationBands([A('b', 'error', 50, 50, ['entropy'])], ['entropy'], [0, 100], [48, 448], { minPx: 10 });
  close(m[0].x, 243, 'minPx x'); close(m[0].width, 10, 'minPx width');
  // degenerate scales draw nothing
  assert.deepEqual(annotationBands(anns, ['kl'], [5, 5], [0, 100]), []);
  assert.deepEqual(annotationBands(anns, ['kl'], [0, 100], [10, 10]), []);
  // hover: x = 249 is inside b [246, 250] only; x = 130 inside a; x = 440 inside d; x = 300 in none
  assert.deepEqual(bandsAt(b, 249).map((x) => x.id), ['b']);
  assert.deepEqual(bandsAt(b, 130).map((x) => x.id), ['a']);
  assert.deepEqual(bandsAt(b, 440).map((x) => x.id), ['d']);
  assert.deepEqual(bandsAt(b, 300), []);
  // overlapping bands under the cursor: most severe first
  const o = annotationBands([A('i', 'info', 0, 50, ['kl']), A('e', 'error', 40, 60, ['kl'])], ['kl'], [0, 100], [0, 100]);
  assert.deepEqual(bandsAt(o, 45).map((x) => x.id), ['e', 'i']);
});

test('focusDomain: the zoom that shows a finding (pad = max(1, width/2), clipped; null when it would not narrow the view)', () => {
  assert.deepEqual(focusDomain([20, 30], [0, 100]), [15, 35]);   // pad 5
  assert.deepEqual(focusDomain([50, 50], [0, 100]), [49, 51]);   // pad 1
  assert.deepEqual(focusDomain([98, 100], [0, 100]), [97, 100]); // pad 1, clipped at 100
  assert.equal(focusDomain([0, 95], [0, 100]), null);            // pad 47.5 → [0, 100]: whole run
  assert.equal(focusDomain([5, 80], [0, 100]), null);            // pad 37.5 → [0, 100]
  assert.deepEqual(focusDomain([30, 60], [0, 100]), [15, 75]);   // 60% of the run
  assert.equal(focusDomain([30, 20], [0, 100]), null);           // bad range
  assert.equal(focusDomain([1, 2], [3, 3]), null);               // one-step run
});

test('doctor/annotations: validated by parseHostMessage with a message naming the entry and field', () => {
  const ok = { kind: 'notification', method: 'doctor/annotations', params: { runDir: '/r', annotations: [A('kl/blowup', 'warning', 3, 9, ['kl'])] } };
  assert.ok(!('error' in parseHostMessage(ok)));
  assert.equal(annotationsError(ok.params), undefined);
  const bad = (a: unknown) => parseHostMessage({ kind: 'notification', method: 'doctor/annotations', params: { runDir: '/r', annotations: [A('ok', 'info', 1, 2, []), a] } });
  const e1 = bad({ ...A('x', 'info', 1, 2, []), severity: 'fatal' });
  assert.ok('error' in e1 && /annotations\[1\]\.severity/.test(e1.error), JSON.stringify(e1));
  const e2 = bad(A('x', 'info', 9, 2, []));
  assert.ok('error' in e2 && /annotations\[1\]: from\/to/.test(e2.error), JSON.stringify(e2));
  const e3 = bad({ ...A('x', 'info', 1, 2, []), metrics: [1] });
  assert.ok('error' in e3 && /annotations\[1\]\.metrics/.test(e3.error), JSON.stringify(e3));
  const e4 = bad({ ...A('x', 'info', 1, 2, []), from: Number.NaN });
  assert.ok('error' in e4, JSON.stringify(e4));
  const e5 = parseHostMessage({ kind: 'notification', method: 'doctor/annotations', params: { runDir: 3, annotations: [] } });
  assert.ok('error' in e5 && /runDir/.test(e5.error));
  const e6 = parseHostMessage({ kind: 'notification', method: 'doctor/annotations', params: { runDir: '/r' } });
  assert.ok('error' in e6 && /annotations must be an array/.test(e6.error));
});

test('host side: findings → annotations with the dashboard\'s metric names (eval:pass@k → eval/pass@k, rollouts:* dropped)', () => {
  const f: Finding = { id: 'reward-hacking/eval', check: 'reward-hacking', severity: 'error', title: 'Train reward up, eval down', message: 'm', remedy: 'r', stepRange: [40, 80], evidence: { metrics: ['reward', 'eval:pass@1', 'rollouts:ref_gap'] } } as Finding;
  assert.deepEqual(dashboardAnnotations([f]), [{ id: 'reward-hacking/eval', severity: 'error', title: 'Train reward up, eval down', from: 40, to: 80, metrics: ['reward', 'eval/pass@1'] }]);
  const c = evidenceCommand('/r', f);
  assert.equal(c.command, 'rlLens.showDashboard');
  assert.deepEqual(c.args[0], { runDir: '/r', finding: 'reward-hacking/eval', metrics: ['reward', 'eval/pass@1'], step: 40, stepRange: [40, 80] });
  // the annotations the host sends pass the webview's validation
  assert.ok(!('error' in parseHostMessage({ kind: 'notification', method: 'doctor/annotations', params: { runDir: '/r', annotations: dashboardAnnotations([f]) } })));
});
