// UI end-to-end layer: test/e2e/*.e2e.ts (framework: test/e2e/framework.ts) against the real workbench
// (code-server) in headless Chromium driven by playwright-core.
//   node test/harness/e2e.mjs [--result FILE] [--grep FILE_RE] [--test NAME_RE] [--headed] [--slowmo MS] [--trace] [--keep]
// Per test FILE: a fresh code-server (fresh user-data / extensions / workspace) with the built extension installed
// as a user would have it (<extensions>/rl-lens.rl-lens-<version>), a fresh Chromium profile, one page; the
// file's tests run in order on that page. A failing test leaves test-output/screenshots/<file>-FAILED-<test>.png.
import { build } from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  root, outDir, log, parseArgs, writeResult, hardTimeout, tempDir, cleanupAll, onCleanup, buildExtension,
  ensureCodeServer, ensureChromium, startCodeServer, launchBrowser, workbenchUrl, tailFile,
} from './lib.mjs';

const opts = parseArgs();
process.env.RL_LENS_REPO = root; // framework.ts exports it as repoRoot
const LAYER_TIMEOUT_S = Number(process.env.RL_LENS_E2E_TIMEOUT || 1200);
hardTimeout(LAYER_TIMEOUT_S, opts.result, 'e2e');
const shotDir = path.join(outDir, 'screenshots');
const slug = (s) => s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80);

function finish(res) {
  writeResult(opts.result, res);
  cleanupAll();
  process.exit(res.failed > 0 ? 1 : res.passed > 0 || res.skippedReason ? 0 : 1);
}

/** Bundles the framework and the test files (TypeScript) into ESM under out/ (so packages resolve from node_modules). */
async function compile(files) {
  const dir = path.join(root, 'out', `e2e-run-${process.pid}`);
  fs.rmSync(dir, { recursive: true, force: true });
  if (!process.env.RL_LENS_KEEP_TEMP) onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  const entryPoints = { framework: path.join(root, 'test/e2e/framework.ts') };
  for (const f of files) entryPoints[path.basename(f, '.ts')] = f;
  await build({ entryPoints, outdir: dir, outExtension: { '.js': '.mjs' }, bundle: true, platform: 'node', format: 'esm', target: 'node20',
    packages: 'external', sourcemap: 'inline', logLevel: 'warning', absWorkingDir: root });
  return { dir, js: (f) => path.join(dir, `${path.basename(f, '.ts')}.mjs`), framework: path.join(dir, 'framework.mjs') };
}
let compiled;

async function loadFile(file) {
  globalThis.__rlLensE2E = { config: {}, tests: [] };
  await import(pathToFileURL(compiled.js(file)).href);
  const reg = globalThis.__rlLensE2E;
  globalThis.__rlLensE2E = undefined;
  return reg;
}

async function runFile(file, chromiumPath, totals) {
  const base = path.basename(file).replace(/\.e2e\.ts$/, '');
  const reg = await loadFile(file);
  const tests = reg.tests.filter((t) => !opts.test || new RegExp(opts.test).test(t.name));
  if (!tests.length) { log(`${base}: no test${opts.test ? ` matches ${opts.test}` : ''}`); return; }
  const cfg = reg.config;
  const workspace = path.join(tempDir(`e2e-${slug(base)}-`), 'workspace');
  fs.mkdirSync(workspace, { recursive: true });
  if (cfg.workspace) await cfg.workspace(workspace);
  const t0 = Date.now();
  const server = await startCodeServer({ workspace, settings: cfg.settings, trust: cfg.trust, env: cfg.env, installExtension: true });
  const context = await launchBrowser({ chromiumPath, headed: opts.headed, slowMo: opts.slowMo });
  if (opts.trace) await context.tracing.start({ screenshots: true, snapshots: true });
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(Number(process.env.RL_LENS_ACTION_TIMEOUT || 15_000));
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (process.env.RL_LENS_DEBUG) console.log(`  [console] ${m.text()}`); });
  const { Workbench } = await import(pathToFileURL(compiled.framework).href);
  const wb = new Workbench(page);
  fs.mkdirSync(shotDir, { recursive: true });
  const screenshot = async (name, target) => {
    const p = path.join(shotDir, `${slug(base)}-${slug(name)}.png`);
    if (target) await target.screenshot({ path: p }); else await page.screenshot({ path: p });
    return p;
  };
  const ctx = { page, wb, screenshot, workspace, repo: root, log: (...a) => console.log(`    ${a.join(' ')}`) };
  log(`${base}: code-server on ${server.url}, ${tests.length} test(s)`);
  try {
    await page.goto(workbenchUrl(server, { folder: workspace }));
    try {
      await wb.waitForWorkbench({ container: 'RL Lens', timeout: 90_000 }); // the extension's contributions are loaded
    } catch (e) {
      await screenshot('FAILED-workbench-start').catch(() => {});
      throw new Error(`workbench did not load: ${e.message}\nserver log:\n${tailFile(server.logFile, 20)}`);
    }
    log(`${base}: workbench up after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    for (const t of tests) {
      if (t.options.skip) { totals.skipped++; totals.tests.push({ file: base, name: t.name, state: 'skipped', reason: String(t.options.skip) }); console.log(`  - ${t.name} (skipped: ${t.options.skip})`); continue; }
      const timeout = t.options.timeout ?? cfg.timeout ?? 60_000;
      const s0 = Date.now();
      let timer;
      try {
        await Promise.race([t.fn(ctx), new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`test timed out after ${timeout} ms`)), timeout); })]);
        const ms = Date.now() - s0;
        totals.passed++; totals.tests.push({ file: base, name: t.name, state: 'passed', ms });
        console.log(`  ✔ ${t.name} (${ms} ms)`);
      } catch (e) {
        const ms = Date.now() - s0;
        const shot = await screenshot(`FAILED-${t.name}`).catch(() => undefined);
        totals.failed++; totals.tests.push({ file: base, name: t.name, state: 'failed', ms, error: String(e?.stack ?? e).split('\n').slice(0, 8).join('\n'), screenshot: shot });
        console.log(`  ✖ ${t.name} (${ms} ms)\n${String(e?.stack ?? e).split('\n').slice(0, 8).map((l) => `      ${l}`).join('\n')}${shot ? `\n      screenshot: ${path.relative(root, shot)}` : ''}`);
      } finally { clearTimeout(timer); }
    }
  } catch (e) {
    totals.failed++; totals.tests.push({ file: base, name: '(file setup)', state: 'failed', error: String(e?.stack ?? e).split('\n').slice(0, 30).join('\n') });
    console.log(`  ✖ ${base}: ${e.message}`);
  } finally {
    if (pageErrors.length && process.env.RL_LENS_DEBUG) log(`${base}: page errors:\n  ${pageErrors.join('\n  ')}`);
    if (opts.trace) { const tp = path.join(outDir, 'traces', `${slug(base)}.zip`); fs.mkdirSync(path.dirname(tp), { recursive: true }); await context.tracing.stop({ path: tp }).catch(() => {}); log(`trace: ${tp} (open with npx playwright show-trace, or trace.playwright.dev)`); }
    if (opts.keep) { log(`--keep: workbench stays at ${workbenchUrl(server, { folder: workspace })}; Ctrl-C to stop`); await new Promise(() => {}); }
    await context.close().catch(() => {});
    server.stop();
    log(`${base}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

async function main() {
  const t0 = Date.now();
  // RL_LENS_E2E_DIR: another folder of *.e2e.ts files (scripts/bench-workbench.mjs runs its benchmark file this way)
  const dir = process.env.RL_LENS_E2E_DIR ? path.resolve(root, process.env.RL_LENS_E2E_DIR) : path.join(root, 'test/e2e');
  const files = (fs.existsSync(dir) ? fs.readdirSync(dir) : []).filter((f) => f.endsWith('.e2e.ts')).map((f) => path.join(dir, f))
    .filter((f) => !opts.grep || new RegExp(opts.grep).test(path.relative(root, f))).sort();
  if (!files.length && opts.grep) return finish({ passed: 0, failed: 0, skipped: 1, skippedReason: `no test/e2e/*.e2e.ts file matches --grep ${opts.grep}`, note: `no file matches --grep ${opts.grep}` });
  if (!files.length) return finish({ passed: 0, failed: 1, skipped: 0, note: 'no test/e2e/*.e2e.ts file' });
  const chrome = ensureChromium();
  if (chrome.skip) return finish({ passed: 0, failed: 0, skipped: 1, skippedReason: chrome.skip, note: `skipped: ${chrome.skip}` });
  try { await ensureCodeServer(); } catch (e) {
    const why = `code-server unavailable: ${e.message.split('\n')[0]}`;
    return finish({ passed: 0, failed: 0, skipped: 1, skippedReason: why, note: `skipped: ${why}` });
  }
  buildExtension();
  compiled = await compile(files);
  const totals = { passed: 0, failed: 0, skipped: 0, tests: [] };
  for (const f of files) {
    log(`e2e file ${path.relative(root, f)}`);
    await runFile(f, chrome.path, totals);
  }
  if (totals.passed + totals.failed === 0 && !totals.skipped) totals.note = 'ran no test';
  for (const t of totals.tests) if (t.state === 'failed') console.error(`[e2e] FAILED: ${t.file} › ${t.name}\n${t.error}`);
  finish({ ...totals, failed: totals.failed + (totals.passed + totals.failed + totals.skipped === 0 ? 1 : 0), seconds: (Date.now() - t0) / 1000, screenshots: path.relative(root, shotDir) });
}

main().catch((e) => {
  console.error(`[harness] e2e crashed: ${e.stack || e}`);
  writeResult(opts.result, { passed: 0, failed: 1, skipped: 0, note: `harness error: ${e.message.split('\n')[0]}` });
  cleanupAll();
  process.exit(1);
});
