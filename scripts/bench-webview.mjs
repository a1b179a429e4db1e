// Webview benchmark in a real browser (headless Chromium, the real dist/webview-main.js with the fake host of
// test/browser/harness.ts). Run: node --import tsx scripts/bench-webview.mjs [--out FILE]  (npm run bench runs it)
// Measures: first paint of a 512-sample × 1024-token heatmap, hover latency, dashboard with 20 metrics × 10k steps.
// Writes bench-results/webview.json (machine noted). Not a test: prints numbers, fails only if the browser is missing.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { chromiumMissing, launch, openView } = await import(path.join(root, 'test/browser/harness.ts'));
const { makeRun } = await import(path.join(root, 'test/fixtures/makeRun.ts'));
const args = process.argv.slice(2);
const out = args.includes('--out') ? args[args.indexOf('--out') + 1] : path.join(root, 'bench-results', 'webview.json');
const missing = chromiumMissing();
if (missing) { console.error(`bench-webview: ${missing}`); process.exit(1); }

const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(s.length * p))]; };
const r1 = (x) => Math.round(x * 10) / 10;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-bench-'));
const browser = await launch();
const results = { machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.release()}`, node: process.version, browser: `chromium ${browser.version()}`, headless: true, gpu: 'disabled (--disable-gpu): canvas is software-rasterised', loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 10) / 10), note: 'shared 2-core machine: other jobs were running; the load average is recorded at start and end' }, date: new Date().toISOString() };
try {
  // ---- heatmap 512 × 1024
  let t0 = Date.now();
  const big = makeRun({ dir: path.join(tmp, 'big'), algorithm: 'grpo', steps: 1, rolloutEvery: 1, groups: 64, groupSize: 8, fixedLen: 1024, seed: 11 });
  const genS = (Date.now() - t0) / 1000;
  const f32 = fs.statSync(path.join(big, 'rollouts', 'step_00000001.f32')).size;
  const hm = [];
  for (let rep = 0; rep < 3; rep++) {
    const v = await openView(browser, { view: 'heatmap', runs: [big], width: 1600, height: 1000 });
    const tStart = Date.now();
    await v.ready();
    const wall = Date.now() - tStart;
    const s = await v.snapshot();
    hm.push({ wallToReadyMs: wall, requestAndTransferMs: s.debug.loadMs, renderMs: s.debug.firstPaintMs - s.debug.loadMs, domainMs: s.debug.domainMs, firstPaintMs: s.debug.firstPaintMs, cellsDrawn: s.grid.cellsDrawn, drawMs: s.grid.lastDrawMs });
    if (rep === 2) {
      // scrolling frames: jump through the rows and columns
      const frames = await v.page.evaluate(async () => {
        const sc = document.querySelector('.grid-scroller'); const inst = window.__rlLens.instance; const times = [];
        for (let k = 0; k < 40; k++) {
          sc.scrollTop = (k * 997) % (sc.scrollHeight - sc.clientHeight); sc.scrollLeft = (k * 1733) % Math.max(1, sc.scrollWidth - sc.clientWidth);
          const t = performance.now(); inst.grid.drawNow(); times.push(performance.now() - t);
        }
        return times;
      });
      results.heatmapScrollFrameMs = { median: r1(med(frames)), p95: r1(pct(frames, 0.95)) };
      // hover latency: synthetic mousemove on 300 different cells; sync handler time and time to the next frame
      const hov = await v.page.evaluate(async () => {
        const sc = document.querySelector('.grid-scroller'); const r = sc.getBoundingClientRect(); const inst = window.__rlLens.instance; const tip = document.getElementById('tooltip');
        sc.scrollTop = 0; sc.scrollLeft = 0; inst.grid.drawNow();
        const sync = [], frame = [];
        for (let k = 0; k < 300; k++) {
          const x = r.left + inst.grid.headerW + 5 + ((k * 37) % Math.floor(r.width - inst.grid.headerW - 20));
          const y = r.top + inst.grid.headerH + 5 + ((k * 53) % Math.floor(r.height - inst.grid.headerH - 20));
          const t = performance.now();
          sc.dispatchEvent(new MouseEvent('mousemove', { clientX: x, clientY: y, bubbles: true }));
          void tip.offsetWidth; // force style + layout of the tooltip
          sync.push(performance.now() - t);
          await new Promise((res) => requestAnimationFrame(() => res(undefined)));
          frame.push(performance.now() - t);
        }
        return { sync, frame, shown: !tip.hidden };
      });
      results.hoverLatencyMs = { handlerMedian: r1(med(hov.sync)), handlerP95: r1(pct(hov.sync, 0.95)), toNextFrameMedian: r1(med(hov.frame)), toNextFrameP95: r1(pct(hov.frame, 0.95)), samples: hov.sync.length, tooltipShown: hov.shown };
      // metric switch (recompute robust domain over 524k values + redraw)
      const sw = await v.page.evaluate(async () => {
        const e = document.getElementById('metric'); const t = performance.now(); e.value = 'entropy'; e.dispatchEvent(new Event('change')); return performance.now() - t;
      });
      results.heatmapMetricSwitchMs = r1(sw);
    }
    await v.page.context().close();
  }
  results.heatmap512x1024 = {
    samples: 512, tokensPerSample: 1024, arrays: 9, f32Bytes: f32, fixtureGenerationS: genS,
    runs: hm.map((h) => Object.fromEntries(Object.entries(h).map(([k, x]) => [k, typeof x === 'number' ? r1(x) : x]))),
    firstPaintMsMedian: r1(med(hm.map((h) => h.firstPaintMs))), renderMsMedian: r1(med(hm.map((h) => h.renderMs))),
    note: 'firstPaintMs = from the webview sending rollout/getStep to the first heatmap frame drawn (includes reading the 19 MB step on the host and moving it into the page; in the harness it travels base64 through CDP, in VS Code as an ArrayBuffer); renderMs = the part after the data arrived (sample stats, p1–p99 domain over all 524k values, first frame).',
  };
  // ---- dashboard 20 metrics × 10k steps
  t0 = Date.now();
  const long = makeRun({ dir: path.join(tmp, 'long'), algorithm: 'grpo', steps: 10000, noRollouts: true, extraMetrics: 4, seed: 12 });
  const genD = (Date.now() - t0) / 1000;
  const db = [];
  for (let rep = 0; rep < 3; rep++) {
    const v = await openView(browser, { view: 'dashboard', runs: [long], width: 1600, height: 1000 });
    await v.ready();
    const s = await v.snapshot();
    const redraw = await v.page.evaluate(async () => {
      const inst = window.__rlLens.instance; const t = [];
      for (let k = 0; k < 10; k++) { const a = performance.now(); inst.drawNow(); t.push(performance.now() - a); }
      return t;
    });
    // streaming: one new record appended → next frame
    const stream = await v.page.evaluate(async (runDir) => {
      const t = [];
      for (let k = 0; k < 20; k++) {
        const a = performance.now();
        window.__fakeHostPost({ kind: 'notification', method: 'metrics/append', params: { runDir, records: [{ step: 10001 + k, values: { 'reward/mean': 0.5, kl: 0.02 } }], evals: [] } });
        await new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(() => res(undefined))));
        t.push(performance.now() - a);
      }
      return t;
    }, path.resolve(long));
    db.push({ firstPaintMs: s.debug.firstPaintMs, metrics: s.runs[0].series, steps: s.runs[0].maxStep, redrawMedianMs: med(redraw), appendToFrameMedianMs: med(stream), pointsDrawn: s.debug.pointsDrawn });
    await v.page.context().close();
  }
  results.dashboard20x10k = {
    metrics: db[0].metrics, steps: db[0].steps, fixtureGenerationS: genD,
    firstPaintMsMedian: r1(med(db.map((d) => d.firstPaintMs))), redrawMsMedian: r1(med(db.map((d) => d.redrawMedianMs))), appendOneRecordToFrameMsMedian: r1(med(db.map((d) => d.appendToFrameMedianMs))),
    pointsDrawnAfterDecimation: db[0].pointsDrawn,
    note: 'firstPaintMs = metrics/get (10k records read by the host follower and sent to the page) + SeriesStore + first draw of all panels; redraw = all panels with smoothing 0.6 (raw + EMA lines, min/max decimation per pixel); append = one streamed record → drawn two frames later.',
  };
} finally {
  await browser.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
results.machine.loadAverageAtEnd = os.loadavg().map((x) => Math.round(x * 10) / 10);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results, null, 2));
console.log(`bench-webview: wrote ${path.relative(root, out)}`);
