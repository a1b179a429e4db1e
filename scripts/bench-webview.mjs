// Webview benchmark in a real browser (headless Chromium, the real dist/webview-main.js with the fake host of
// test/browser/harness.ts, whose requests are answered by the real host code). Run:
//   node --import tsx scripts/bench-webview.mjs [--out FILE] [--old BUNDLE] [--quick] [--skip-big]
// (npm run bench:webview). Issue 18's list: heatmap first paint of 512×1,024 and 1,024×4,096 steps, metric switch,
// scroll frame p50/p95, hover-to-frame, dashboard first paint at 24 × 10k and 40 × 100k, live record → frame, run open
// of 1 GB and 10 GB synthetic runs (generated here, deleted after), host and page memory.
// `--old BUNDLE` (default .scratch/h18/old/dist/webview-main.js when present: the webview of the last commit, built
// by `node scripts/bench-webview-old.mjs`) runs the same measures with that bundle in the same run, side by side.
// The workbench numbers (code-server + Chromium) come from scripts/bench-workbench.mjs.
// Writes bench-results/webview.json (machine and load average noted; the previous file is kept under "previous").
// Not a test: prints numbers, fails only if the browser is missing.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { chromiumMissing, launch, openView } = await import(path.join(root, 'test/browser/harness.ts'));
const { makeRun } = await import(path.join(root, 'test/fixtures/makeRun.ts'));
const { makeBigRun } = await import(path.join(root, 'scripts/bench-runs.ts'));
const { stepInfos, RunFollower } = await import(path.join(root, 'src/host/ui/panels/dataProvider.ts'));
const { stepSource } = await import(path.join(root, 'src/host/ui/panels/stepSource.ts'));
const args = process.argv.slice(2);
const arg = (k, d) => (args.includes(k) ? args[args.indexOf(k) + 1] : d);
const out = arg('--out', path.join(root, 'bench-results', 'webview.json'));
const quick = args.includes('--quick');
const skipBig = args.includes('--skip-big');
const defaultOld = path.join(root, '.scratch/h18/old/dist/webview-main.js');
const oldBundle = arg('--old', fs.existsSync(defaultOld) ? defaultOld : undefined);
const missing = chromiumMissing();
if (missing) { console.error(`bench-webview: ${missing}`); process.exit(1); }

const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(s.length * p))]; };
const r1 = (x) => (typeof x === 'number' ? Math.round(x * 10) / 10 : x);
const mb = (b) => Math.round(b / 2 ** 20 * 10) / 10;
const load = () => os.loadavg().map((x) => Math.round(x * 10) / 10);
const log = (...a) => console.error('[bench-webview]', ...a);
const withTimeout = (p, ms, what) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`${what}: no answer in ${ms / 1000} s`)), ms))]);

const previous = fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, 'utf8')) : undefined;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-bench-'));
let browser = await launch();
const results = {
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.release()}`, node: process.version, browser: `chromium ${browser.version()}`, headless: true, gpu: 'disabled (--disable-gpu): canvas is software-rasterised', loadAverageAtStart: load(), note: 'shared 2-core machine: other jobs were running; the load average is noted at start, per measure and at end' },
  date: new Date().toISOString(),
  bundles: { new: 'dist/webview-main.js (this tree)', old: oldBundle ? path.relative(root, oldBundle) + ' (the last commit\'s webview: whole step in one rollout/getStep)' : 'not given' },
};
const bundles = [['new', undefined], ...(oldBundle ? [['old', oldBundle]] : [])];

async function heapMB(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable').catch(() => undefined);
  await cdp.send('HeapProfiler.collectGarbage').catch(() => undefined);
  const m = await cdp.send('Performance.getMetrics').catch(() => undefined);
  await cdp.detach().catch(() => undefined);
  const get = (n) => m?.metrics.find((x) => x.name === n)?.value;
  return { jsHeapUsedMB: mb(get('JSHeapUsedSize') ?? 0), jsHeapTotalMB: mb(get('JSHeapTotalSize') ?? 0) };
}
const hostMem = () => { global.gc?.(); const m = process.memoryUsage(); return { rssMB: mb(m.rss), heapUsedMB: mb(m.heapUsed), externalMB: mb(m.external + (m.arrayBuffers ?? 0)) }; };

/** A browser that died (out of memory on the old bundle's whole-step transfer) is started again. */
async function ensureBrowser() {
  const alive = browser.isConnected() && await browser.newContext().then((c) => c.close().then(() => true), () => false);
  if (!alive) { log('browser closed: starting it again'); await browser.close().catch(() => undefined); browser = await launch(); }
}

/** One heatmap open: first paint, then (extras) metric switch, scroll frames, hover, memory. */
async function heatmapRun(run, bundle, extras) {
  const hostBefore = hostMem();
  const v = await openView(browser, { view: 'heatmap', runs: [run], width: 1600, height: 1000, bundle });
  const t0 = Date.now();
  await withTimeout(v.ready(), 240_000, 'heatmap ready');
  const wall = Date.now() - t0;
  const s = await v.snapshot();
  const r = { wallToReadyMs: wall, firstPaintMs: s.debug.firstPaintMs, requestMs: s.debug.loadMs, cellsDrawn: s.grid.cellsDrawn, pending: s.grid.cellsPending ?? 0, windows: s.windows, load1: load()[0] };
  if (extras) {
    // metric switch: new = after the background prefetch of the other metrics' domains (a second later); old = synchronous
    await v.page.waitForTimeout(1500);
    r.metricSwitchMs = await v.page.evaluate(async () => {
      const e = document.getElementById('metric'); const inst = window.__rlLens.instance; const t = performance.now();
      e.value = 'entropy'; e.dispatchEvent(new Event('change'));
      // the switch is done when the instance has the new metric and its frame is drawn
      for (let k = 0; k < 200 && (inst.metric !== 'entropy' || (inst.debug.metricSwitchMs === 0 && inst.windows)); k++) await new Promise((res) => setTimeout(res, 1));
      await new Promise((res) => requestAnimationFrame(() => res(undefined)));
      return inst.debug.metricSwitchMs || performance.now() - t;
    });
    // scroll: jumps through rows and columns; sync frame (what is cached or placeholders) and jump → frame with data
    const frames = await v.page.evaluate(async () => {
      const sc = document.querySelector('.grid-scroller'); const inst = window.__rlLens.instance; const sync = [], data = [];
      for (let k = 0; k < 40; k++) {
        sc.scrollTop = (k * 997) % Math.max(1, sc.scrollHeight - sc.clientHeight); sc.scrollLeft = (k * 1733) % Math.max(1, sc.scrollWidth - sc.clientWidth);
        const t = performance.now(); inst.grid.drawNow(); sync.push(performance.now() - t);
        if (inst.grid.fetchView) { await inst.grid.fetchView(); inst.grid.drawNow(); }
        data.push(performance.now() - t);
      }
      // small steps (a wheel): 40 × 60 px down
      const wheel = [];
      for (let k = 0; k < 40; k++) {
        sc.scrollTop += 60; const t = performance.now(); inst.grid.drawNow();
        if (inst.grid.fetchView) { await inst.grid.fetchView(); inst.grid.drawNow(); }
        wheel.push(performance.now() - t);
      }
      return { sync, data, wheel };
    });
    r.scroll = { syncFrameP50: med(frames.sync), syncFrameP95: pct(frames.sync, 0.95), jumpToDataFrameP50: med(frames.data), jumpToDataFrameP95: pct(frames.data, 0.95), wheelToFrameP50: med(frames.wheel), wheelToFrameP95: pct(frames.wheel, 0.95) };
    const hov = await v.page.evaluate(async () => {
      const sc = document.querySelector('.grid-scroller'); const rr = sc.getBoundingClientRect(); const inst = window.__rlLens.instance; const tip = document.getElementById('tooltip');
      sc.scrollTop = 0; sc.scrollLeft = 0; inst.grid.drawNow(); if (inst.grid.fetchView) { await inst.grid.fetchView(); inst.grid.drawNow(); }
      const sync = [], frame = [];
      for (let k = 0; k < 200; k++) {
        const x = rr.left + inst.grid.headerW + 5 + ((k * 37) % Math.floor(rr.width - inst.grid.headerW - 20));
        const y = rr.top + inst.grid.headerH + 5 + ((k * 53) % Math.floor(rr.height - inst.grid.headerH - 20));
        const t = performance.now();
        sc.dispatchEvent(new MouseEvent('mousemove', { clientX: x, clientY: y, bubbles: true }));
        void tip.offsetWidth;
        sync.push(performance.now() - t);
        await new Promise((res) => requestAnimationFrame(() => res(undefined)));
        frame.push(performance.now() - t);
      }
      return { sync, frame, shown: !tip.hidden };
    });
    r.hover = { handlerP50: med(hov.sync), handlerP95: pct(hov.sync, 0.95), toFrameP50: med(hov.frame), toFrameP95: pct(hov.frame, 0.95), tooltipShown: hov.shown };
    r.pageMemory = await heapMB(v.page);
    r.windowsAfter = (await v.snapshot()).windows;
    r.hostMemoryDelta = (() => { const a = hostMem(); return { rssMB: r1(a.rssMB - hostBefore.rssMB), heapUsedMB: r1(a.heapUsedMB - hostBefore.heapUsedMB), externalMB: r1(a.externalMB - hostBefore.externalMB) }; })();
  }
  await v.page.context().close();
  return Object.fromEntries(Object.entries(r).map(([k, x]) => [k, typeof x === 'object' && x ? Object.fromEntries(Object.entries(x).map(([a, b]) => [a, r1(b)])) : r1(x)]));
}

async function heatmapBench(name, run, reps, oldReps) {
  const f32 = fs.readdirSync(path.join(run, 'rollouts')).filter((f) => f.endsWith('.f32')).reduce((a, f) => a + fs.statSync(path.join(run, 'rollouts', f)).size, 0);
  const res = { f32Bytes: f32 };
  for (const [label, bundle] of bundles) {
    const n = label === 'old' ? oldReps : reps;
    const runs = [];
    for (let k = 0; k < n; k++) {
      await ensureBrowser();
      log(`${name} ${label} rep ${k + 1}/${n} (load ${load()[0]})`);
      try { runs.push(await heatmapRun(run, bundle, k === n - 1)); } catch (e) { log(`${name} ${label}: ${e.stack ?? e}`); runs.push({ error: String(e.message ?? e).slice(0, 300) }); break; }
    }
    const ok = runs.filter((x) => x.firstPaintMs !== undefined);
    res[label] = { runs, firstPaintMsMedian: ok.length ? r1(med(ok.map((x) => x.firstPaintMs))) : 'failed', last: ok.at(-1) };
  }
  return res;
}

/** Dashboard: first paint, redraw, one streamed record → frame. */
async function dashboardBench(name, run, reps, oldReps) {
  const res = {};
  for (const [label, bundle] of bundles) {
    const n = label === 'old' ? oldReps : reps;
    const db = [];
    for (let rep = 0; rep < n; rep++) {
      await ensureBrowser();
      log(`${name} ${label} rep ${rep + 1}/${n} (load ${load()[0]})`);
      try {
        const v = await openView(browser, { view: 'dashboard', runs: [run], width: 1600, height: 1000, bundle });
        await withTimeout(v.ready(), 240_000, 'dashboard ready');
        const s = await v.snapshot();
        const redraw = await v.page.evaluate(async () => {
          const inst = window.__rlLens.instance; const t = [];
          for (let k = 0; k < 5; k++) { const a = performance.now(); inst.drawNow(); t.push(performance.now() - a); }
          return t;
        });
        const maxStep = s.runs[0].maxStep;
        const stream = await v.page.evaluate(async ([runDir, from]) => {
          const t = [];
          for (let k = 0; k < 20; k++) {
            const a = performance.now();
            window.__fakeHostPost({ kind: 'notification', method: 'metrics/append', params: { runDir, records: [{ step: from + 1 + k, values: { 'reward/mean': 0.5, kl: 0.02 } }], evals: [] } });
            await new Promise((res) => requestAnimationFrame(() => res(undefined)));
            t.push(performance.now() - a);
          }
          return t;
        }, [path.resolve(run), maxStep]);
        db.push({ firstPaintMs: r1(s.debug.firstPaintMs), metrics: s.runs[0].series, steps: maxStep, redrawMsP50: r1(med(redraw)), recordToFrameP50: r1(med(stream)), recordToFrameP95: r1(pct(stream, 0.95)), pointsDrawn: s.debug.pointsDrawn, load1: load()[0], ...(rep === n - 1 ? { pageMemory: await heapMB(v.page) } : {}) });
        await v.page.context().close();
      } catch (e) { log(`${name} ${label}: ${e.stack ?? e}`); db.push({ error: String(e.message ?? e).slice(0, 300) }); break; }
    }
    const ok = db.filter((d) => d.firstPaintMs !== undefined);
    res[label] = { runs: db, firstPaintMsMedian: ok.length ? r1(med(ok.map((d) => d.firstPaintMs))) : 'failed', recordToFrameMsMedian: ok.length ? r1(med(ok.map((d) => d.recordToFrameP50))) : 'failed' };
  }
  return res;
}

/** Run open: the host's step list (index) + metrics for the dashboard + the last step's overview, and the page's first chart. */
async function runOpenBench(name, run) {
  const before = hostMem();
  const t0 = performance.now();
  const infos = stepInfos(run);
  const tInfos = performance.now() - t0;
  const t1 = performance.now();
  const m = new RunFollower(run).initial();
  const tMetrics = performance.now() - t1;
  const last = infos.at(-1).step;
  const t2 = performance.now();
  const ov = stepSource(path.resolve(run), last).overview();
  const tOverview = performance.now() - t2;
  const after = hostMem();
  const bytes = (d) => fs.readdirSync(d, { withFileTypes: true }).reduce((a, e) => a + (e.isDirectory() ? bytes(path.join(d, e.name)) : fs.statSync(path.join(d, e.name)).size), 0);
  const dash = await dashboardBench(`${name} dashboard`, run, 1, 0);
  const hm = [];
  const v = await openView(browser, { view: 'heatmap', runs: [run], width: 1600, height: 1000 });
  await withTimeout(v.ready(), 240_000, 'heatmap ready');
  const s = await v.snapshot();
  hm.push({ firstPaintMs: r1(s.debug.firstPaintMs), pageMemory: await heapMB(v.page) });
  await v.page.context().close();
  return {
    runBytes: bytes(run), steps: infos.length, metricsRecords: m.records.length, samplesInLastStep: ov.samples.length,
    host: { stepListMs: r1(tInfos), metricsMs: r1(tMetrics), lastStepOverviewMs: r1(tOverview), rssDeltaMB: r1(after.rssMB - before.rssMB), heapUsedDeltaMB: r1(after.heapUsedMB - before.heapUsedMB), rssMB: after.rssMB },
    dashboardFirstChartMs: dash.new.firstPaintMsMedian, heatmapFirstPaintMs: hm[0].firstPaintMs, heatmapPageMemory: hm[0].pageMemory, load1: load()[0],
  };
}

const writeOut = () => { fs.mkdirSync(path.dirname(out), { recursive: true }); fs.writeFileSync(out, JSON.stringify({ ...results, partial: true }, null, 2) + '\n'); };
const section = async (name, f) => {
  // a browser that died (out of memory on the old bundle's whole-step transfer) is started again for the next measure
  const alive = browser.isConnected() && await browser.newContext().then((c) => c.close().then(() => true), () => false);
  if (!alive) { await browser.close().catch(() => undefined); browser = await launch(); }
  try { results[name] = await f(); } catch (e) { log(`${name}: ${e.stack ?? e}`); results[name] = { error: String(e.message ?? e).slice(0, 300) }; }
  writeOut();
};
const only = arg('--only', '');
// --only RE: measure only the matching sections, keep the others from the file (each section notes its own load)
if (only && previous) for (const [k, v] of Object.entries(previous)) if (!(k in results) && k !== 'previous' && k !== 'notes') results[k] = v;
const want = (name) => !only || new RegExp(only).test(name);
try {
  // ---- heatmap 512 × 1024 (as before) and 1024 × 4096 (verl-sized)
  const gen = (what, f) => { const t = Date.now(); const d = f(); log(`${what} generated in ${(Date.now() - t) / 1000} s`); return d; };
  if (want('heatmap512x1024')) await section('heatmap512x1024', () => heatmapBench('heatmap 512×1024', gen('512×1024', () => makeRun({ dir: path.join(tmp, 'big'), algorithm: 'grpo', steps: 1, rolloutEvery: 1, groups: 64, groupSize: 8, fixedLen: 1024, seed: 11 })), quick ? 1 : 3, quick ? 1 : 3));
  if (!skipBig && want('heatmap1024x4096')) await section('heatmap1024x4096', async () => {
    const huge = gen('1024×4096', () => makeBigRun({ dir: path.join(tmp, 'huge'), steps: 1, samples: 1024, tokens: 4096, seed: 13 }));
    try { return await heatmapBench('heatmap 1024×4096', huge, quick ? 1 : 2, 1); } finally { fs.rmSync(huge, { recursive: true, force: true }); }
  });
  if (want('dashboard24x10k')) await section('dashboard24x10k', () => dashboardBench('dashboard 24×10k', gen('24×10k', () => makeRun({ dir: path.join(tmp, 'long'), algorithm: 'grpo', steps: 10000, noRollouts: true, extraMetrics: 4, seed: 12 })), quick ? 1 : 3, quick ? 1 : 3));
  if (!skipBig && want('dashboard40x100k')) await section('dashboard40x100k', async () => {
    const longer = gen('40×100k', () => makeRun({ dir: path.join(tmp, 'longer'), algorithm: 'grpo', steps: 100000, noRollouts: true, extraMetrics: 20, seed: 14 }));
    try { return await dashboardBench('dashboard 40×100k', longer, 1, 1); } finally { fs.rmSync(longer, { recursive: true, force: true }); }
  });
  // ---- run open: 1 GB and 10 GB synthetic runs
  if (!skipBig) {
    for (const [name, gb] of [['runOpen1GB', 1], ['runOpen10GB', 10]]) {
      if (!want(name)) continue;
      await section(name, async () => {
        const dir = gen(name, () => makeBigRun({ dir: path.join(tmp, name), gigabytes: gb, samples: 1024, tokens: 4096, metricsSteps: 10000, seed: 15 }));
        try { return await runOpenBench(name, dir); } finally { fs.rmSync(dir, { recursive: true, force: true }); }
      });
    }
  }
} finally {
  await browser.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
results.machine.loadAverageAtEnd = load();
results.notes = [
  'firstPaintMs: from the page asking for the step (new: rollout/overview + rollout/domain + rollout/window of the cells in view; old: rollout/getStep of the whole step) to the first heatmap frame drawn with data. In this harness binary data travels base64 through CDP (exposeFunction); in VS Code as transferred ArrayBuffers.',
  'metric switch (new): after the page prefetched the domains of the other metrics (a background request per metric after the first paint); the switch itself needs no round trip then.',
  'scroll: syncFrame = one drawNow right after a jump (new: placeholders for cells not fetched yet); jumpToDataFrame = until the cells of the view are fetched and drawn.',
  'run open (1 GB / 10 GB): synthetic runs of 1,024 × 4,096-token traced steps (151 MB .f32 each; the steps after the first are hard links of the first, so the run has the apparent size without writing it; the index lines are the real ones) and 10k metric records. host = the extension-host work (step list from rollouts/index.jsonl, metrics/get, the last step\'s overview) in this process.',
];
if (previous && !only) results.previous = { date: previous.date, machine: previous.machine, heatmap512x1024FirstPaintMsMedian: previous.heatmap512x1024?.firstPaintMsMedian ?? previous.heatmap512x1024?.new?.firstPaintMsMedian, heatmapMetricSwitchMs: previous.heatmapMetricSwitchMs, dashboard20x10k: previous.dashboard20x10k, dashboard24x10k: previous.dashboard24x10k?.new };
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results, null, 2));
console.log(`bench-webview: wrote ${path.relative(root, out)}`);

process.exit(0); // a browser that died earlier may keep the event loop alive
