// pass@k chart SVG (src/report/chart.ts): coordinates by hand, escaping of untrusted labels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHART, chartPoint, escapeXml, passAtKSvg } from '../../src/report/chart';

test('chartPoint: x evenly spaced over log2 k, y = pass@k in [0, 1] (plot 332 × 244 px from (48, 16); legend on the right)', () => {
  // inner width 580 − 48 − 200 = 332, height 300 − 16 − 40 = 244
  assert.deepEqual(chartPoint(0, 4, 0.25), { x: 48, y: 199 });          // 16 + 0.75·244
  assert.deepEqual(chartPoint(2, 4, 1), { x: 269.3, y: 16 });           // 48 + 2/3·332 = 269.33
  assert.deepEqual(chartPoint(0, 1, 0.5), { x: 214, y: 138 });          // single point centred
  assert.deepEqual(chartPoint(3, 4, 2), { x: 380, y: 16 }, 'clamped to 1');
  assert.equal(CHART.width - CHART.left - CHART.right, 332);
});

test('passAtKSvg: one polyline and legend per series, labels escaped', () => {
  const svg = passAtKSvg([1, 2, 4], [{ label: 'base <img src=x onerror=alert(1)>', values: [0.25, 0.5, 1] }, { label: 'rl "&"', values: [0.5, 0.75, 1] }]);
  assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
  assert.equal((svg.match(/<circle /g) ?? []).length, 6);
  assert.ok(svg.includes('points="48,199 214,138 380,16"'), svg);
  assert.ok(!svg.includes('<img'));
  assert.ok(svg.includes('base &lt;img src=x onerror=alert(1)&gt;'));
  assert.ok(svg.includes('rl &quot;&amp;&quot;'));
  assert.equal(escapeXml(`a'b`), 'a&#39;b');
});
