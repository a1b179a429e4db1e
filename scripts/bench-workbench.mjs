// Issue 18's measures in the real workbench: code-server + headless Chromium with the extension installed, the way
// the e2e tests run (test/harness/e2e.mjs), driving scripts/bench/workbench.e2e.ts. Fixtures (512×1,024 and
// 1,024×4,096 steps, 24 × 10k and 40 × 100k dashboards, a 10 GB run) are generated in the harness's temporary
// workspace and deleted with it; the fixtures are written by the run writer, as a trainer writes its runs (sidecars and
// metrics columns cache included; one 40 × 100k measure deletes the cache: an older run). Two harness runs: every
// measure but the 10 GB run's, then the 10 GB run's in a fresh code-server (its extension host memory is that run's).
// Results: bench-results/workbench.json (machine and load average noted; the previous file kept under "previous"). Run: node scripts/bench-workbench.mjs [--small]  (--small: the 512 and 24 × 10k ones only);
// RL_LENS_BUCKET_ABOVE=1e12 node scripts/bench-workbench.mjs: the dashboards with every point in the page (before issue 18's windows)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'bench-results', 'workbench.json');
const previous = fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, 'utf8')) : undefined;
const loadAtStart = os.loadavg().map((x) => Math.round(x * 10) / 10);
const t0 = Date.now();
const big = !process.argv.includes('--small');
// two harness runs, each its own code-server and extension host: every measure but the 10 GB run's, then the 10 GB
// run's alone in a fresh host (its host memory is that run's, not what the other runs left in V8's heap)
const parts = [{ name: 'main', test: '^(?!10 GB)' }, ...(big ? [{ name: '10 GB run, fresh host', test: '^10 GB' }] : [])];
const measured = { notMeasured: [] };
let exit = 0;
for (const [k, part] of parts.entries()) {
  const tmp = path.join(os.tmpdir(), `rl-lens-workbench-bench-${process.pid}-${k}.json`);
  const harnessResult = path.join(os.tmpdir(), `rl-lens-workbench-harness-${process.pid}-${k}.json`);
  const r = spawnSync(process.execPath, [path.join(root, 'test/harness/e2e.mjs'), '--result', harnessResult, '--test', part.test], {
    cwd: root, stdio: 'inherit', env: { ...process.env, RL_LENS_E2E_DIR: 'scripts/bench', RL_LENS_BENCH_OUT: tmp, RL_LENS_BENCH_BIG: big ? '1' : '0' },
  });
  exit = exit || (r.status ?? 1);
  const got = fs.existsSync(tmp) ? JSON.parse(fs.readFileSync(tmp, 'utf8')) : {};
  const { loadAverageAtStart: la, loadAverageNow: ln, fixturesS, ...rest } = got;
  Object.assign(measured, rest);
  (measured.parts ??= []).push({ part: part.name, loadAverageAtStart: la, loadAverageAtEnd: ln, fixturesS });
  // measures that did not come up (a view that never painted): from the harness's result file
  try {
    const h = JSON.parse(fs.readFileSync(harnessResult, 'utf8'));
    measured.notMeasured.push(...(h.tests ?? []).filter((t) => t.state !== 'passed' && t.state !== 'skipped').map((t) => ({ name: t.name, state: t.state, ms: t.ms, error: String(t.error ?? t.reason ?? '').split('\n')[0] })));
  } catch { /* no result file */ }
  fs.rmSync(harnessResult, { force: true });
  fs.rmSync(tmp, { force: true });
}
const r = { status: exit };
const results = {
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, memGB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.release()}`, node: process.version, loadAverageAtStart: loadAtStart, loadAverageAtEnd: os.loadavg().map((x) => Math.round(x * 10) / 10), note: 'shared 2-core machine: other jobs were running; load average noted per measure (load1)' },
  // RL_LENS_BUCKET_ABOVE (the extension host inherits it): runs with more points are sent to the dashboard as per-pixel
  // windows; a huge value gives the page every point (the way before issue 18's windows), for a side-by-side run
  bucketAbove: process.env.RL_LENS_BUCKET_ABOVE ?? 'default (100000 points)',
  date: new Date().toISOString(), where: 'code-server + headless Chromium (test/harness/e2e.mjs), the extension installed from this tree', seconds: (Date.now() - t0) / 1000, harnessExit: r.status,
  ...measured,
  ...(previous ? { previous: { ...previous, previous: undefined } } : {}),
};
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
console.log(JSON.stringify(results, null, 2));
console.log(`bench-workbench: wrote ${path.relative(root, out)}`);
