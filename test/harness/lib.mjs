// Shared machinery of the integration and e2e layers: a cached code-server install, Chromium, a freshly
// isolated VS Code server per start, process-group cleanup, result files. See docs/testing.md.
//
// Cache folder: $RL_LENS_TEST_CACHE, default <repo>/.test-cache (git-ignored). Holds code-server in a folder of
// its own (never the extension's node_modules), the ripgrep tarball code-server's postinstall looks for, and
// per-start temp folders (user-data, extensions, workspace), removed after each start.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const cacheDir = path.resolve(process.env.RL_LENS_TEST_CACHE || path.join(root, '.test-cache'));
export const outDir = path.join(root, 'test-output');
export const CODE_SERVER_VERSION = '4.99.4'; // = VS Code 1.99.3; declares Node 20 (newer ones need Node 24)
export const EXTENSION_ID = 'rl-lens.rl-lens';

export const log = (...a) => console.log('[harness]', ...a);
export const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

// ---------------------------------------------------------------------------------------------------------------
// command-line options shared by both layers
export function parseArgs(argv = process.argv.slice(2)) {
  const o = { result: undefined, grep: undefined, test: undefined, headed: !!process.env.RL_LENS_HEADED, keep: !!process.env.RL_LENS_KEEP, slowMo: Number(process.env.RL_LENS_SLOWMO || 0), trace: !!process.env.RL_LENS_TRACE, vscode: process.env.RL_LENS_VSCODE || 'auto', compileOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--result') o.result = argv[++i];
    else if (a === '--grep') o.grep = argv[++i];
    else if (a === '--test') o.test = argv[++i];
    else if (a === '--headed') o.headed = true;
    else if (a === '--keep') o.keep = true;
    else if (a === '--slowmo') o.slowMo = Number(argv[++i]);
    else if (a === '--trace') o.trace = true;
    else if (a === '--vscode') o.vscode = argv[++i];
    else if (a === '--compile-only') o.compileOnly = true;
    else { console.error(`unknown option ${a}`); process.exit(2); }
  }
  return o;
}

export function writeResult(file, res) {
  const line = `${res.passed} passed, ${res.failed} failed${res.skipped ? `, ${res.skipped} skipped` : ''}${res.note ? ` [${res.note}]` : ''}`;
  log(line);
  if (file) { fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true }); fs.writeFileSync(file, JSON.stringify(res, null, 2)); }
}

// ---------------------------------------------------------------------------------------------------------------
// cleanup: every child process group and temp folder we create is registered here and removed on any exit path
const cleanups = [];
export function onCleanup(fn) { cleanups.push(fn); return fn; }
let cleaned = false;
export function cleanupAll() {
  if (cleaned) return; cleaned = true;
  for (const fn of cleanups.reverse()) { try { fn(); } catch { /* best effort */ } }
}
process.on('exit', cleanupAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { log(`got ${sig}: cleaning up`); cleanupAll(); process.exit(130); });

/** Kills a detached child's whole process group (SIGTERM, then SIGKILL), synchronously. */
export function killGroup(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) {
    if (child?.pid) { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }
    return;
  }
  try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
  const t = Date.now();
  while (Date.now() - t < 1500) {
    try { process.kill(-child.pid, 0); } catch { return; }
    spawnSync('sleep', ['0.1']);
  }
  try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
}

/** Hard timeout for a whole layer: cleans up and exits with a result file saying so. */
export function hardTimeout(seconds, resultFile, layer) {
  const t = setTimeout(() => {
    console.error(`[harness] ${layer}: hard timeout of ${seconds} s reached: killing everything`);
    writeResult(resultFile, { passed: 0, failed: 1, skipped: 0, note: `${layer} hit its hard timeout of ${seconds} s` });
    cleanupAll();
    process.exit(1);
  }, seconds * 1000);
  t.unref();
  return t;
}

export function tempDir(prefix) {
  const base = path.join(cacheDir, 'tmp');
  fs.mkdirSync(base, { recursive: true });
  const d = fs.mkdtempSync(path.join(base, prefix));
  if (!process.env.RL_LENS_KEEP_TEMP) onCleanup(() => fs.rmSync(d, { recursive: true, force: true, maxRetries: 3, retryDelay: 200 }));
  return d;
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// a lock folder so that parallel `npm test` runs do not install into the cache at the same time
async function withLock(name, fn) {
  const lock = path.join(cacheDir, `${name}.lock`);
  fs.mkdirSync(cacheDir, { recursive: true });
  const t0 = Date.now();
  for (;;) {
    try { fs.mkdirSync(lock); fs.writeFileSync(path.join(lock, 'pid'), String(process.pid)); break; } catch (e) {
      if (e.code !== 'EEXIST') throw e;
      let owner = 0; try { owner = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8')); } catch { /* being written */ }
      let alive = true; if (owner) { try { process.kill(owner, 0); } catch (err) { alive = err.code === 'EPERM'; } }
      if (owner && !alive) { fs.rmSync(lock, { recursive: true, force: true }); continue; }
      if (Date.now() - t0 > 15 * 60_000) throw new Error(`waited 15 min for ${lock} (held by pid ${owner}); remove it if no install is running`);
      if ((Date.now() - t0) % 30_000 < 1000) log(`waiting for ${lock} (pid ${owner} is installing)`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  const release = onCleanup(() => fs.rmSync(lock, { recursive: true, force: true }));
  try { return await fn(); } finally { release(); }
}

// ---------------------------------------------------------------------------------------------------------------
// code-server
export const codeServerDir = path.join(cacheDir, `code-server-${CODE_SERVER_VERSION}`);
export const codeServerEntry = path.join(codeServerDir, 'node_modules/code-server/out/node/entry.js');
const okMarker = path.join(codeServerDir, '.installed-ok');

/** The tarball @vscode/ripgrep's postinstall looks for before downloading rg from GitHub, built from Debian's rg. */
function ensureRipgrepCache(tmp) {
  const rg = ['/usr/bin/rg', '/usr/local/bin/rg'].find((p) => fs.existsSync(p));
  if (!rg) throw new Error('ripgrep (rg) is not installed: code-server needs it. Install it: apt-get install ripgrep');
  const arch = { x64: 'x86_64-unknown-linux-musl', arm64: 'aarch64-unknown-linux-gnu' }[process.arch];
  if (!arch) throw new Error(`no ripgrep cache name known for ${process.arch}`);
  // @vscode/ripgrep 1.15.x pins ripgrep v13.0.0-10 (1.15.11 is what code-server 4.99.4 uses)
  for (const v of ['1.15.9', '1.15.10', '1.15.11', '1.15.12', '1.15.13', '1.15.14']) {
    const d = path.join(tmp, `vscode-ripgrep-cache-${v}`);
    fs.mkdirSync(d, { recursive: true });
    const stage = fs.mkdtempSync(path.join(tmp, 'rg-'));
    fs.copyFileSync(rg, path.join(stage, 'rg'));
    fs.chmodSync(path.join(stage, 'rg'), 0o755);
    for (const n of [`ripgrep-v13.0.0-10-${arch}.tar.gz`, `ripgrep-v13.0.0-13-${arch}.tar.gz`]) {
      execFileSync('tar', ['-czf', path.join(d, n), '-C', stage, 'rg']);
    }
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

export async function ensureCodeServer() {
  if (fs.existsSync(okMarker) && fs.existsSync(codeServerEntry)) return codeServerEntry;
  if (process.env.RL_LENS_NO_INSTALL) throw new Error(`code-server is not installed in ${codeServerDir} and RL_LENS_NO_INSTALL is set`);
  return withLock('code-server-install', async () => {
    if (fs.existsSync(okMarker) && fs.existsSync(codeServerEntry)) return codeServerEntry;
    const major = Number(process.versions.node.split('.')[0]);
    if (major !== 20) log(`warning: code-server ${CODE_SERVER_VERSION} declares Node 20; this is Node ${process.versions.node}`);
    const missing = [];
    if (!fs.existsSync('/usr/include/krb5.h') && !fs.existsSync('/usr/include/krb5/krb5.h')) missing.push('libkrb5-dev');
    if (!hasCmd('make') || !hasCmd('g++')) missing.push('build-essential');
    if (!hasCmd('python3')) missing.push('python3');
    if (missing.length) throw new Error(`code-server's native modules need Debian packages: ${missing.join(' ')} (apt-get install ${missing.join(' ')}; .ci/run does it as root)`);
    log(`installing code-server@${CODE_SERVER_VERSION} into ${codeServerDir} (once; about 2-4 min)`);
    const t0 = Date.now();
    fs.rmSync(codeServerDir, { recursive: true, force: true });
    fs.mkdirSync(codeServerDir, { recursive: true });
    const tmp = path.join(codeServerDir, '.tmp');
    fs.mkdirSync(tmp, { recursive: true });
    ensureRipgrepCache(tmp);
    fs.writeFileSync(path.join(codeServerDir, 'package.json'), JSON.stringify({
      name: 'rl-lens-test-code-server', private: true, description: 'code-server for RL Lens tests (installed by test/harness)',
      dependencies: { 'code-server': CODE_SERVER_VERSION },
    }, null, 2));
    const env = {
      ...process.env,
      TMPDIR: tmp, // where @vscode/ripgrep looks for its cached tarball
      npm_config_unsafe_perm: 'true', // code-server's postinstall refuses root without it
      npm_config_yes: 'true', // node-pty's install runs `npx node-gyp`
      // npm here blocks dependency install scripts by default; code-server's postinstall (and the nested installs
      // it runs for VS Code's own modules: kerberos, node-pty, argon2, ripgrep...) must run. This folder holds only
      // code-server, so allowing its scripts is scoped to it.
      npm_config_dangerously_allow_all_scripts: 'true',
      npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false',
      npm_config_cache: process.env.npm_config_cache || path.join(cacheDir, 'npm-cache'),
    };
    // node-gyp (argon2, node-pty, kerberos) needs Node's headers: use the ones installed with this Node
    // (Debian's nodejs ships them in /usr/include/node) rather than downloading them (no network to nodejs.org here)
    const prefix = path.resolve(path.dirname(process.execPath), '..');
    if (!env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include/node/common.gypi'))) env.npm_config_nodedir = prefix;
    const logFile = path.join(codeServerDir, 'install.log');
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(npm, ['install', '--no-package-lock', '--foreground-scripts', '--dangerously-allow-all-scripts'], { cwd: codeServerDir, env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    fs.writeFileSync(logFile, `${r.stdout}\n${r.stderr}`);
    if (r.status !== 0 || !fs.existsSync(codeServerEntry)) {
      const tail = `${r.stdout}\n${r.stderr}`.split('\n').slice(-40).join('\n');
      throw new Error(`npm install code-server@${CODE_SERVER_VERSION} failed (exit ${r.status}); full log: ${logFile}\n${tail}`);
    }
    // the postinstall must have built VS Code's server modules; the server cannot start without them
    const vsNodeModules = path.join(codeServerDir, 'node_modules/code-server/lib/vscode/node_modules');
    if (!fs.existsSync(vsNodeModules)) throw new Error(`code-server's postinstall did not run (no ${vsNodeModules}); see ${logFile}`);
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.writeFileSync(okMarker, new Date().toISOString());
    log(`code-server installed in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    return codeServerEntry;
  });
}

export function hasCmd(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Chromium (Debian's, driven by playwright-core)
export function findChromium() {
  const cands = [process.env.RL_LENS_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'].filter(Boolean);
  return cands.find((p) => fs.existsSync(p));
}

/** Returns the Chromium path, installing Debian's chromium with apt when we are root; else { skip: reason }. */
export function ensureChromium() {
  if (process.env.RL_LENS_CHROMIUM && !fs.existsSync(process.env.RL_LENS_CHROMIUM)) return { skip: `RL_LENS_CHROMIUM=${process.env.RL_LENS_CHROMIUM} does not exist` };
  let c = findChromium();
  if (c) return { path: c };
  if (isRoot() && hasCmd('apt-get') && !process.env.RL_LENS_NO_INSTALL) {
    log('chromium not found: installing Debian chromium with apt-get (root)');
    let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) {
      spawnSync('apt-get', ['update'], { stdio: 'inherit' });
      r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'chromium'], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    }
    c = findChromium();
    if (c) return { path: c };
    return { skip: 'Chromium is not installed and `apt-get install chromium` failed' };
  }
  return { skip: `Chromium is not installed (looked for /usr/bin/chromium; set RL_LENS_CHROMIUM=/path/to/chrome, or as root: apt-get install chromium)` };
}

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage', '--disable-crash-reporter', '--disable-breakpad', '--disable-features=Translate,MediaRouter', '--password-store=basic'];

export async function launchBrowser({ chromiumPath, headed = false, slowMo = 0 }) {
  const { chromium } = await import('playwright-core');
  const profile = tempDir('chromium-');
  if (headed && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) throw new Error('--headed needs a display: run under `xvfb-run -a` or on a desktop');
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath, headless: !headed, slowMo,
    // the benchmarks measure a page's live heap after a garbage collection (window.gc)
    args: process.env.RL_LENS_BENCH_OUT ? [...CHROMIUM_ARGS, '--js-flags=--expose-gc', '--enable-precise-memory-info'] : CHROMIUM_ARGS,
    viewport: { width: 1400, height: 900 }, ignoreHTTPSErrors: false, offline: false,
  });
  // loopback only: anything else the workbench asks for is refused and logged
  await context.route((url) => !/^(http|ws)s?:\/\/(127\.0\.0\.1|localhost)(:\d+)?\//.test(url.href) && !/^(data|blob|about|chrome|vscode-[a-z-]+):$/.test(url.protocol), (route) => {
    if (process.env.RL_LENS_DEBUG) log(`blocked non-loopback request ${route.request().url()}`);
    return route.abort('blockedbyclient');
  });
  // playwright kills the browsers it launched when this process exits; on other paths the harness closes the context
  onCleanup(() => { killByProfile(profile); });
  return context;
}

// ---------------------------------------------------------------------------------------------------------------
// the extension under test
export function buildExtension() {
  if (process.env.RL_LENS_SKIP_BUILD) return;
  log('building the extension (node scripts/build.mjs)');
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`node scripts/build.mjs failed (exit ${r.status})`);
  if (!fs.existsSync(path.join(root, 'dist/extension.js'))) throw new Error('dist/extension.js was not built');
}

/** Copies what a .vsix would hold into <extensionsDir>/rl-lens.rl-lens-<version>, as an installed extension. */
export function installExtensionCopy(extensionsDir) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const dest = path.join(extensionsDir, `${pkg.publisher}.${pkg.name}-${pkg.version}`);
  fs.mkdirSync(dest, { recursive: true });
  for (const f of ['package.json', 'package.nls.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'dist', 'media', 'schemas', 'bin', 'resources', 'syntaxes', 'walkthroughs']) {
    const src = path.join(root, f);
    if (fs.existsSync(src)) fs.cpSync(src, path.join(dest, f), { recursive: true, dereference: true });
  }
  return dest;
}

// ---------------------------------------------------------------------------------------------------------------
// a fresh, isolated VS Code (code-server) per start
export const QUIET_SETTINGS = {
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'workbench.enableExperiments': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'security.workspace.trust.enabled': false,
  'git.enabled': false,
  'git.autofetch': false,
  'github.gitAuthentication': false,
  'npm.autoDetect': 'off',
  'typescript.disableAutomaticTypeAcquisition': true,
  'chat.disableAIFeatures': true,
  'chat.commandCenter.enabled': false,
  'github.copilot.enable': { '*': false },
  'window.commandCenter': false,
  'workbench.colorTheme': 'Default Dark Modern',
  'files.autoSave': 'off',
  'editor.minimap.enabled': false,
  'notebook.experimental.remoteSave': false,
  'remote.autoForwardPorts': false,
};

/**
 * Starts code-server on a free loopback port with fresh user-data / extensions dirs.
 * Returns { url, port, workspace, userDataDir, extensionsDir, stop(), logFile }.
 * opts: { workspace?: dir, settings?: object, installExtension?: boolean, env?: object, trust?: boolean }
 */
export async function startCodeServer(opts = {}) {
  const entry = await ensureCodeServer();
  const base = tempDir('vscode-');
  const userDataDir = path.join(base, 'user-data');
  const extensionsDir = path.join(base, 'extensions');
  const workspace = opts.workspace || path.join(base, 'workspace');
  for (const d of [userDataDir, extensionsDir, workspace, path.join(userDataDir, 'User')]) fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(userDataDir, 'User/settings.json'), JSON.stringify({ ...QUIET_SETTINGS, ...(opts.trust === false ? { 'security.workspace.trust.enabled': true } : {}), ...(opts.settings || {}) }, null, 2));
  if (opts.installExtension && process.env.RL_LENS_E2E_VSIX) {
    // install a packaged .vsix exactly as a user would (code-server --install-extension)
    const vsix = path.resolve(process.env.RL_LENS_E2E_VSIX);
    const r = spawnSync(process.execPath, [entry, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', vsix],
      { env: { ...process.env, EXTENSIONS_GALLERY: '{}' }, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`code-server --install-extension ${vsix} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
    log(`installed ${vsix}`);
  } else if (opts.installExtension) installExtensionCopy(extensionsDir);
  const port = await freePort();
  const config = path.join(base, 'config.yaml');
  fs.writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const args = [entry, '--config', config, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir,
    '--disable-telemetry', '--disable-update-check', '--disable-getting-started-override', '--ignore-last-opened',
    '--disable-file-downloads', '--disable-proxy', '--locale', 'en'];
  if (opts.trust !== false) args.push('--disable-workspace-trust');
  const logFile = path.join(base, 'code-server.log');
  const fd = fs.openSync(logFile, 'a');
  const env = {
    ...process.env, EXTENSIONS_GALLERY: '{}', VSCODE_TELEMETRY_LEVEL: 'off', HOME: process.env.HOME, XDG_CONFIG_HOME: path.join(base, 'xdg-config'),
    XDG_DATA_HOME: path.join(base, 'xdg-data'), CS_DISABLE_FILE_DOWNLOADS: '1', RL_LENS_TEST: '1', RL_LENS_REPO: root, ...(opts.env || {}),
  };
  delete env.VSCODE_IPC_HOOK_CLI; delete env.ELECTRON_RUN_AS_NODE; delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, args, { cwd: base, env, detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const stop = () => killGroup(child);
  onCleanup(stop);
  const url = `http://127.0.0.1:${port}`;
  // wait until it answers
  const t0 = Date.now();
  for (;;) {
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode} at start; log:\n${tailFile(logFile)}`);
    try { const r = await fetch(`${url}/healthz`); if (r.ok) break; } catch { /* not yet */ }
    if (Date.now() - t0 > 60_000) { stop(); throw new Error(`code-server did not answer on ${url} within 60 s; log:\n${tailFile(logFile)}`); }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, port, workspace, userDataDir, extensionsDir, base, logFile, child, stop };
}

/** SIGKILLs Chromium processes using `profile` as user-data-dir (a last resort, only our own profile). */
function killByProfile(profile) {
  if (process.platform !== 'linux') return;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(`--user-data-dir=${profile}`)) process.kill(Number(pid), 'SIGKILL');
    } catch { /* gone or not ours */ }
  }
}

export function tailFile(f, n = 40) {
  try { return fs.readFileSync(f, 'utf8').split('\n').slice(-n).join('\n'); } catch { return '(no log)'; }
}

/** URL that opens the workbench on `folder`, with optional development extension / tests (VS Code reads them from `payload`). */
export function workbenchUrl(server, { folder, extensionDevelopmentPath, extensionTestsPath } = {}) {
  const remote = (p) => `vscode-remote://127.0.0.1:${server.port}${p}`;
  const payload = [];
  if (extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', remote(extensionDevelopmentPath)]);
  if (extensionTestsPath) payload.push(['extensionTestsPath', remote(extensionTestsPath)]);
  let u = `${server.url}/?folder=${encodeURIComponent(folder || server.workspace)}`;
  if (payload.length) u += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  return u;
}
