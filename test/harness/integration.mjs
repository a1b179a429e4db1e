// Integration layer: mocha tests (test/integration/*.test.ts) inside a real VS Code extension host.
//   node test/harness/integration.mjs [--result FILE] [--grep FILE_RE] [--test TITLE_RE] [--vscode auto|code-server|electron]
//                                     [--headed] [--keep] [--compile-only]
// code-server (here): the workbench is loaded in headless Chromium with extensionDevelopmentPath / extensionTestsPath
// in the URL `payload`; the true exit code comes from window.codeAutomationExit. electron (@vscode/test-electron,
// where VS Code can be downloaded): runTests with the same mocha entry. RL_LENS_VSCODE=electron|code-server forces one.
import { build } from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  root, outDir, cacheDir, log, parseArgs, writeResult, hardTimeout, tempDir, onCleanup, cleanupAll, buildExtension,
  ensureCodeServer, ensureChromium, startCodeServer, launchBrowser, workbenchUrl, tailFile, QUIET_SETTINGS, hasCmd, killGroup,
} from './lib.mjs';

const opts = parseArgs();
const LAYER_TIMEOUT_S = Number(process.env.RL_LENS_INTEGRATION_TIMEOUT || 900);
hardTimeout(LAYER_TIMEOUT_S + 30, opts.result, 'integration');

/** Bundles the mocha entry and every test file into dir (inside the repo, so `mocha` resolves from node_modules). */
async function compileTests(dir) {
  const testDir = path.join(root, 'test/integration');
  const files = fs.readdirSync(testDir).filter((f) => f.endsWith('.test.ts')).filter((f) => !opts.grep || new RegExp(opts.grep).test(`test/integration/${f}`)).sort();
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const entryPoints = { index: path.join(testDir, 'index.ts') };
  for (const f of files) entryPoints[f.replace(/\.ts$/, '')] = path.join(testDir, f);
  await build({
    entryPoints, outdir: dir, bundle: true, platform: 'node', format: 'cjs', target: 'node20', sourcemap: 'inline', logLevel: 'warning',
    absWorkingDir: root, external: ['vscode', 'mocha', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
  });
  fs.writeFileSync(path.join(dir, 'options.json'), JSON.stringify({ grep: opts.test, files: files.map((f) => f.replace(/\.ts$/, '.js')), timeout: Number(process.env.RL_LENS_TEST_TIMEOUT || 60_000) }));
  return files;
}

/** Renders a browser console message, dropping the %c styling VS Code's log forwarding uses. */
async function consoleText(m) {
  let vals;
  try { vals = await Promise.all(m.args().map((a) => a.jsonValue().catch(() => '?'))); } catch { return m.text(); }
  if (!vals.length) return m.text();
  let fmt = typeof vals[0] === 'string' ? vals.shift() : '';
  fmt = fmt.replace(/%[csdoOif]/g, (k) => { const v = vals.shift(); return k === '%c' ? '' : String(v); });
  return [fmt, ...vals.map((v) => (typeof v === 'string' ? v : JSON.stringify(v)))].join(' ').trim();
}

function readMochaResult(dir) {
  try { return JSON.parse(fs.readFileSync(path.join(dir, 'mocha-result.json'), 'utf8')); } catch { return undefined; }
}

function finish(res, extra = {}) {
  const out = { passed: res.passed ?? 0, failed: res.failed ?? 0, skipped: res.skipped ?? 0, ...(res.exitCode !== undefined ? { exitCode: res.exitCode } : {}), ...extra };
  if (res.tests) out.tests = res.tests.map(({ title, state, ms, error }) => ({ title, state, ms, ...(error ? { error: error.split('\n').slice(0, 6).join('\n') } : {}) }));
  writeResult(opts.result, out);
  for (const t of out.tests ?? []) if (t.state === 'failed') console.error(`[integration] FAILED: ${t.title}\n${t.error}`);
  cleanupAll();
  process.exit(out.failed > 0 || out.skippedReason ? (out.failed > 0 ? 1 : 0) : out.passed > 0 ? 0 : 1);
}

// ---------------------------------------------------------------------------------------------------------------
async function runInCodeServer(testsDir, chromiumPath) {
  // nested, so that what tests write next to the workspace (path.dirname) is removed with it
  const workspace = path.join(tempDir('it-'), 'workspace');
  fs.mkdirSync(workspace, { recursive: true });
  const server = await startCodeServer({ workspace });
  log(`code-server on ${server.url} (user-data and extensions fresh under ${server.base})`);
  const context = await launchBrowser({ chromiumPath, headed: opts.headed, slowMo: opts.slowMo });
  const page = context.pages()[0] ?? await context.newPage();
  let exitInfo;
  const exited = new Promise((resolve) => {
    page.exposeFunction('codeAutomationExit', (code, logs) => { exitInfo = { code, logs }; resolve(exitInfo); return true; }).catch((e) => log(`exposeFunction failed: ${e.message}`));
  });
  page.on('console', async (m) => {
    // the extension host's console (mocha's spec reporter, the extension's console.log) arrives here
    const text = await consoleText(m);
    const mine = /\[rl-lens-test\] ?/.exec(text);
    if (mine) console.log(`  ${text.slice(mine.index + mine[0].length)}`);
    else if (process.env.RL_LENS_DEBUG || (/^(ERR|WARN|Error)/.test(text) && !/Failed to load resource|gallery/.test(text))) console.log(`  [workbench] ${text}`);
  });
  page.on('pageerror', (e) => console.log(`  [page error] ${e.message}`));
  const url = workbenchUrl(server, { folder: workspace, extensionDevelopmentPath: root, extensionTestsPath: path.join(testsDir, 'index.js') });
  await page.goto(url);
  const timeout = new Promise((resolve) => setTimeout(() => resolve({ timeout: `did not finish within ${LAYER_TIMEOUT_S} s` }), LAYER_TIMEOUT_S * 1000));
  // watchdogs: the server died, or mocha never started (the extension host did not load the tests)
  const serverDied = new Promise((resolve) => server.child.once('exit', (code, sig) => resolve({ timeout: `code-server exited (${code ?? sig}) during the tests` })));
  const startLimit = Number(process.env.RL_LENS_IT_START_TIMEOUT || 180);
  const neverStarted = new Promise((resolve) => {
    const t0 = Date.now();
    const iv = setInterval(() => {
      if (fs.existsSync(path.join(testsDir, 'mocha-result.json'))) clearInterval(iv);
      else if (Date.now() - t0 > startLimit * 1000) { clearInterval(iv); resolve({ timeout: `mocha did not start within ${startLimit} s of loading the workbench` }); }
    }, 1000);
    iv.unref();
  });
  const r = await Promise.race([exited, timeout, serverDied, neverStarted]);
  const mochaRes = readMochaResult(testsDir);
  if (r.timeout) {
    fs.mkdirSync(path.join(outDir, 'screenshots'), { recursive: true });
    await page.screenshot({ path: path.join(outDir, 'screenshots', 'integration-timeout.png') }).catch(() => {});
    console.error(`[integration] ${r.timeout}; code-server log:\n${tailFile(server.logFile, 25)}`);
    return { ...(mochaRes ?? {}), failed: (mochaRes?.failed ?? 0) + 1, note: `extension tests ${r.timeout}${mochaRes?.running ? ` (running "${mochaRes.running}")` : ''}; screenshot test-output/screenshots/integration-timeout.png` };
  }
  if (opts.keep) { log(`--keep: workbench stays at ${url}; Ctrl-C to stop`); await new Promise(() => {}); }
  await context.close().catch(() => {});
  server.stop();
  if (!mochaRes || !mochaRes.done) {
    console.error(`[integration] the extension host stopped before mocha finished; code-server log:\n${tailFile(server.logFile, 25)}`);
    const why = `the extension host stopped before the tests finished (workbench exit code ${exitInfo.code})${mochaRes?.running ? `, while running "${mochaRes.running}"` : ''}`;
    return { ...(mochaRes ?? { passed: 0 }), failed: (mochaRes?.failed ?? 0) + 1, exitCode: exitInfo.code, note: why };
  }
  const res = { ...mochaRes, exitCode: exitInfo.code };
  if (exitInfo.code !== 0 && !res.failed) { res.failed = 1; res.note = `extension host exited with code ${exitInfo.code}`; }
  if (exitInfo.code === 0 && res.failed) { res.note = 'mocha reported failures but the workbench exit code was 0'; }
  return res;
}

// ---------------------------------------------------------------------------------------------------------------
async function runInElectron(testsDir) {
  const { runTests } = await import('@vscode/test-electron');
  const base = tempDir('electron-');
  const workspace = path.join(base, 'workspace'); const userData = path.join(base, 'user-data'); const exts = path.join(base, 'extensions');
  for (const d of [workspace, path.join(userData, 'User'), exts]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(userData, 'User/settings.json'), JSON.stringify(QUIET_SETTINGS, null, 2));
  let xvfb;
  if (process.platform === 'linux' && !process.env.DISPLAY && hasCmd('Xvfb')) {
    const { spawn } = await import('node:child_process');
    const display = `:${90 + (process.pid % 100)}`;
    xvfb = spawn('Xvfb', [display, '-screen', '0', '1400x900x24', '-nolisten', 'tcp'], { detached: true, stdio: 'ignore' });
    onCleanup(() => killGroup(xvfb));
    process.env.DISPLAY = display;
  }
  const code = await runTests({
    version: process.env.RL_LENS_VSCODE_VERSION || '1.99.3',
    cachePath: path.join(cacheDir, 'vscode-electron'),
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(testsDir, 'index.js'),
    extensionTestsEnv: { RL_LENS_TEST: '1', RL_LENS_REPO: root, EXTENSIONS_GALLERY: '{}' },
    launchArgs: [workspace, '--disable-extensions', `--user-data-dir=${userData}`, `--extensions-dir=${exts}`, '--disable-workspace-trust',
      '--disable-telemetry', '--disable-updates', '--skip-welcome', '--skip-release-notes', '--disable-gpu', '--no-sandbox'],
  });
  const mochaRes = readMochaResult(testsDir) ?? { passed: 0, failed: 1, note: `VS Code exited with ${code} without writing results` };
  if (code !== 0 && !mochaRes.failed) { mochaRes.failed = 1; mochaRes.note = `VS Code exited with code ${code}`; }
  return mochaRes;
}

// ---------------------------------------------------------------------------------------------------------------
async function main() {
  const t0 = Date.now();
  const persistent = opts.compileOnly; // `--compile-only` writes out/integration for .vscode-test.mjs (vscode-test CLI)
  const testsDir = persistent ? path.join(root, 'out/integration') : path.join(root, 'out', `integration-run-${process.pid}`);
  if (!persistent && !process.env.RL_LENS_KEEP_TEMP) onCleanup(() => fs.rmSync(testsDir, { recursive: true, force: true }));
  buildExtension();
  const files = await compileTests(testsDir);
  if (opts.compileOnly) { log(`compiled ${files.length} test file(s) into ${testsDir}`); process.exit(0); }
  if (!files.length && opts.grep) return finish({ passed: 0, failed: 0, skipped: 1 }, { skippedReason: `no test/integration/*.test.ts file matches --grep ${opts.grep}`, note: `no file matches --grep ${opts.grep}` });
  if (!files.length) return finish({ passed: 0, failed: 1 }, { note: 'no test/integration/*.test.ts file' });
  log(`integration: ${files.length} file(s): ${files.join(', ')}`);

  const want = opts.vscode;
  if (!['auto', 'code-server', 'electron'].includes(want)) throw new Error(`RL_LENS_VSCODE / --vscode must be auto, code-server or electron, not ${want}`);
  const reasons = [];
  if (want === 'auto' || want === 'code-server') {
    const chrome = ensureChromium();
    let cs;
    if (chrome.skip) reasons.push(chrome.skip);
    else { try { cs = await ensureCodeServer(); } catch (e) { reasons.push(`code-server unavailable: ${e.message.split('\n')[0]}`); } }
    if (cs && chrome.path) {
      const res = await runInCodeServer(testsDir, chrome.path);
      return finish(res, { vscode: 'code-server', seconds: (Date.now() - t0) / 1000, ...(res.note ? { note: res.note } : {}) });
    }
    if (want === 'code-server') return finish({ passed: 0, failed: 0, skipped: 1 }, { skippedReason: reasons.join('; '), note: `skipped: ${reasons.join('; ')}` });
    log(`code-server path not possible (${reasons.join('; ')}); trying @vscode/test-electron`);
  }
  try {
    const res = await runInElectron(testsDir);
    return finish(res, { vscode: 'electron', seconds: (Date.now() - t0) / 1000, ...(res.note ? { note: res.note } : {}) });
  } catch (e) {
    reasons.push(`@vscode/test-electron: ${e.message.split('\n')[0]}`);
    if (want === 'electron') return finish({ passed: 0, failed: 1 }, { note: reasons.join('; ') });
    return finish({ passed: 0, failed: 0, skipped: 1 }, { skippedReason: reasons.join('; '), note: `skipped: ${reasons.join('; ')}` });
  }
}

main().catch((e) => {
  console.error(`[harness] integration crashed: ${e.stack || e}`);
  writeResult(opts.result, { passed: 0, failed: 1, skipped: 0, note: `harness error: ${e.message.split('\n')[0]}` });
  cleanupAll();
  process.exit(1);
});
