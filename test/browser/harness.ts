/**
 * Runs the real webview bundle (dist/webview-main.js + media/webview/main.css) in headless Chromium with a fake
 * host (test/browser/fakeHost.js) whose requests are answered by the real host data code. Used by
 * test/unit/webview-browser.test.ts, scripts/bench-webview.mjs and scripts/screenshots-webview.mjs.
 */
import * as os from 'os';
import { before, after } from 'node:test';
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import type { Browser, Page } from 'playwright-core';
import { renderWebviewHtml, makeNonce } from '../../src/host/ui/panels/html';
import { getStep, RunFollower, runRef, stepInfos } from '../../src/host/ui/panels/dataProvider';
import { listRolloutSteps } from '../../src/runio/reader';
import { checkExport } from '../../src/host/ui/panels/exportFile';
import { webviewRequestHandlers, type RequestContext } from '../../src/host/ui/panels/requests';
import type { MetricsWindowParams, RunRef, ViewKind, ViewTarget, WebviewState } from '../../src/shared/protocol';
import { THEME_VARS, type ThemeName } from './themes';

export const CHROMIUM = process.env.RL_LENS_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const root = path.resolve(__dirname, '../..');
const ORIGIN = 'http://rl-lens.test';

export function chromiumMissing(): string | undefined {
  return fs.existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run the webview browser tests`;
}

function newest(dir: string): number {
  let t = 0;
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, d.name);
    t = Math.max(t, d.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

/** Build dist/ if the webview bundle is missing or older than its sources. */
export function ensureBundle(): string {
  const bundle = path.join(root, 'dist', 'webview-main.js');
  const src = Math.max(newest(path.join(root, 'src/webview')), fs.statSync(path.join(root, 'src/shared/protocol.ts')).mtimeMs);
  if (!fs.existsSync(bundle) || fs.statSync(bundle).mtimeMs < src) {
    const r = spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('node scripts/build.mjs failed');
  }
  return bundle;
}

export async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export interface OpenOptions {
  view: ViewKind;
  runs: string[];
  target?: ViewTarget;
  state?: WebviewState;
  theme?: ThemeName;
  width?: number;
  height?: number;
  /** more runs the "Runs tree" knows (answered by `runs/list`, readable by the view): the dashboard's run picker */
  known?: string[];
  /** another webview bundle to serve as /dist/webview-main.js (the benchmark's old-vs-new comparison) */
  bundle?: string;
}

export interface Opened {
  page: Page;
  /** notifications the webview sent (parsed) */
  notifications: { method: string; params: Record<string, unknown> }[];
  /** console messages, page errors and CSP reports */
  consoleLines: string[];
  pageErrors: string[];
  dialogs: string[];
  followers: Map<string, RunFollower>;
  /** dashboard `export/save` requests (checked as the host does: exportFile.ts), answered with a path under /tmp */
  saved: { fileName: string; format: string; bytes: Buffer }[];
  /** `samples/export` requests the page made (the fake host answers with a fixed path) */
  exports: { runDir: string; step: number; samples: number[] }[];
  /** wait until the view reports ready */
  ready(): Promise<void>;
  snapshot(): Promise<Record<string, any>>;
  post(msg: unknown): Promise<void>;
  /** switch theme like VS Code does (body class + variables) */
  setTheme(t: ThemeName): Promise<void>;
}

export async function openView(browser: Browser, o: OpenOptions): Promise<Opened> {
  ensureBundle();
  const ctx = await browser.newContext({ viewport: { width: o.width ?? 1400, height: o.height ?? 820 }, deviceScaleFactor: 1 });
  const page = await ctx.newPage();
  const notifications: Opened['notifications'] = [];
  const consoleLines: string[] = [], pageErrors: string[] = [], dialogs: string[] = [];
  const followers = new Map<string, RunFollower>();
  const exports: Opened['exports'] = [];
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('dialog', (d) => { dialogs.push(`${d.type()}: ${d.message()}`); void d.dismiss(); });
  const runs: RunRef[] = o.runs.map((d) => runRef(path.resolve(d)));
  const allowed = new Set(runs.map((r) => r.runDir));
  const known: RunRef[] = [...runs, ...(o.known ?? []).map((d) => runRef(path.resolve(d)))];
  for (const r of known) allowed.add(r.runDir);
  const saved: Opened['saved'] = [];
  if (o.target) allowed.add(path.resolve(o.target.runDir));
  const nonce = makeNonce();
  const theme = THEME_VARS[o.theme ?? 'light'];
  const html = renderWebviewHtml({ view: o.view, cspSource: ORIGIN, nonce, title: 'test', scriptUri: `${ORIGIN}/dist/webview-main.js`, styleUri: `${ORIGIN}/media/webview/main.css`, preludeScriptUris: [`${ORIGIN}/config.js`, `${ORIGIN}/fakeHost.js`] })
    .replace('<body ', `<body class="${theme.bodyClass}" `);
  // VS Code sets the theme variables on <html> through the CSSOM (allowed by the CSP); fakeHost.js does the same
  const cfg = { view: o.view, runs, target: o.target ? { ...o.target, runDir: path.resolve(o.target.runDir) } : undefined, state: o.state, themeVars: theme.vars, bodyClass: theme.bodyClass };
  await page.exposeFunction('__hostNotify', (s: string) => { notifications.push(JSON.parse(s)); });
  await page.exposeFunction('__hostRequest', async (s: string) => {
    const msg = JSON.parse(s);
    try {
      const dir = msg.params.runDir ? path.resolve(msg.params.runDir) : '';
      if (msg.params.runDir && !allowed.has(dir)) throw new Error(`${dir} is not a run this view was opened with`);
      switch (msg.method) {
        case 'runs/list': return JSON.stringify({ ok: true, result: known });
        case 'export/save': { const f = checkExport(msg.params); saved.push({ fileName: f.fileName, format: f.format, bytes: Buffer.from(f.bytes) }); return JSON.stringify({ ok: true, result: { path: `/tmp/${f.fileName}` } }); }
        case 'rollout/listSteps': return JSON.stringify({ ok: true, result: listRolloutSteps(dir) });
        case 'rollout/stepInfo': return JSON.stringify({ ok: true, result: stepInfos(dir) });
        case 'samples/export': { exports.push(msg.params); return JSON.stringify({ ok: true, result: { path: '/tmp/exported.jsonl', count: msg.params.samples.length } }); }
        case 'rollout/getStep': { const p = getStep(dir, msg.params.step); return JSON.stringify({ ok: true, result: { ...p, data: null, dataBase64: Buffer.from(p.data as ArrayBuffer).toString('base64') } }); }
        // windowed heatmap (issue 18): the same handlers the panel uses; binary parts travel base64 (dataBase64 / stripsBase64)
        case 'rollout/overview': case 'rollout/window': case 'rollout/domain': case 'rollout/search': case 'rollout/textMatch': case 'rollout/drill': case 'metrics/columns': case 'metrics/window': case 'metrics/at': case 'metrics/series': {
          // the dashboard as the panel follows it (panel.ts): columns through the follower, which keeps a bucketed run's series
          const ctx = {
            allowedRun: async (d: string) => path.resolve(d),
            followMetrics: (d: string) => { const f = new RunFollower(d); followers.set(d, f); return f.initial(); },
            followColumns: (d: string, w?: MetricsWindowParams) => { const f = new RunFollower(d); followers.set(d, f); return f.initialColumns(w); },
            metricsSource: (d: string) => { let f = followers.get(d); if (!f) { f = new RunFollower(d); f.initial(); followers.set(d, f); } return f.metricsSource(); },
          };
          const r = await (webviewRequestHandlers(ctx as unknown as RequestContext)[msg.method as 'rollout/window'])({ ...msg.params, runDir: dir }) as unknown as Record<string, unknown>;
          if (Array.isArray(r)) return JSON.stringify({ ok: true, result: r });
          const out: Record<string, unknown> = { ...r };
          for (const k of ['data', 'strips', 'steps', 'values', 'clock', 'windowData']) if (r[k] instanceof ArrayBuffer) { out[k] = null; out[`${k}Base64`] = Buffer.from(r[k] as ArrayBuffer).toString('base64'); }
          return JSON.stringify({ ok: true, result: out });
        }
        case 'metrics/get': { const f = new RunFollower(dir); followers.set(dir, f); return JSON.stringify({ ok: true, result: f.initial() }); }
        default: throw new Error(`unknown method ${msg.method}`);
      }
    } catch (e) { return JSON.stringify({ ok: false, error: (e as Error).message }); }
  });
  await page.route(`${ORIGIN}/**`, async (route) => {
    const url = new URL(route.request().url());
    const p = url.pathname;
    if (p === '/index.html') return route.fulfill({ contentType: 'text/html', body: html });
    if (p === '/config.js') return route.fulfill({ contentType: 'text/javascript', body: `window.__fakeHostConfig = ${JSON.stringify(cfg)};` });
    if (p === '/fakeHost.js') return route.fulfill({ contentType: 'text/javascript', path: path.join(__dirname, 'fakeHost.js') });
    if (p === '/dist/webview-main.js' && o.bundle) return route.fulfill({ contentType: 'text/javascript', path: o.bundle });
    if (p.startsWith('/dist/') || p.startsWith('/media/')) {
      const f = path.join(root, p);
      if (!f.startsWith(root) || !fs.existsSync(f)) return route.fulfill({ status: 404, body: 'not found' });
      return route.fulfill({ contentType: p.endsWith('.css') ? 'text/css' : 'text/javascript', path: f });
    }
    return route.fulfill({ status: 404, body: 'not found' });
  });
  // anything else (remote content) is refused: the page must not try
  await page.route(/^(?!http:\/\/rl-lens\.test\/).*/, (route) => { consoleLines.push(`blocked request: ${route.request().url()}`); return route.abort(); });
  await page.goto(`${ORIGIN}/index.html`);
  const opened: Opened = {
    page, notifications, consoleLines, pageErrors, dialogs, followers, saved, exports,
    ready: async () => { await page.waitForFunction(() => document.body.dataset.ready === 'true' || document.body.dataset.ready === 'error', undefined, { timeout: 30000 }); },
    snapshot: () => page.evaluate(() => {
      const s = (window as any).__rlLens.snapshot();
      delete s.colorAt;
      return JSON.parse(JSON.stringify(s));
    }),
    post: (msg) => page.evaluate((m) => (window as any).__fakeHostPost(m), msg),
    setTheme: (t) => page.evaluate((th) => (window as any).__fakeHostTheme(th.vars, th.bodyClass), THEME_VARS[t]),
  };
  return opened;
}

/** Pixel colour (r,g,b) of the page at client coordinates (a real screenshot of what is drawn). */
export async function pixelAt(page: Page, x: number, y: number): Promise<[number, number, number]> {
  const png = await page.screenshot({ clip: { x, y, width: 1, height: 1 } });
  // decode the 1×1 PNG in the page (no PNG decoder needed in Node)
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas'); c.width = 1; c.height = 1;
    const ctx = c.getContext('2d')!; ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2]] as [number, number, number];
  }, png.toString('base64'));
}

/**
 * One describe block's browser and pages: before the tests, a temp folder (given to `setup`, which makes the runs)
 * and a browser; after them, every opened page, the browser and the folder are closed / removed. `open(o)` opens a
 * view and waits for it to be ready.
 */
export function browserSuite(prefix: string, setup: (tmp: string) => void): { open(o: OpenOptions): Promise<Opened> } {
  let browser: Browser | undefined;
  let tmp = '';
  const opened: Opened[] = [];
  before(async () => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix)); setup(tmp); browser = await launch(); });
  after(async () => {
    for (const v of opened) await v.page.context().close().catch(() => undefined);
    await browser?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });
  return {
    async open(o) {
      const v = await openView(browser!, o);
      opened.push(v);
      await v.ready();
      return v;
    },
  };
}

/** browserSuite whose `open(dir)` opens the group view of group g0 of the run in `dir`. */
export function groupViewSuite(prefix: string, setup: (tmp: string) => void): { open(dir: string): Promise<Opened> } {
  const s = browserSuite(prefix, setup);
  return { open: (dir) => s.open({ view: 'group', runs: [dir], target: { runDir: dir, group: 'g0' } }) };
}
