// Issue 18's measures in the real workbench: code-server + headless Chromium with the extension installed, the way
// the e2e tests run (test/harness/e2e.mjs), driving scripts/bench/workbench.e2e.ts. Fixtures (512×1,024 and
// 1,024×4,096 steps, 24 × 10k and 40 × 100k dashboards, a 10 GB run) are generated in the harness's temporary
// workspace and deleted with it. Results: bench-results/workbench.json (machine and load average noted; the previous
// file kept under "previous"). Run: node scripts/bench-workbench.mjs [--small]  (--small: the 512 and 24 × 10k ones only);
// RL_LENS_BUCKET_ABOVE=1e12 node scripts/bench-workbench.mjs: the dashboards with every point in the page (before issue 18's windows)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'bench-results', 'workbench.json');
const tmp = path.join(os.tmpdir(), `rl-lens-workbench-bench-${process.pid}.json`);
const previous = fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, 'utf8')) : undefined;
const loadAtStart = os.loadavg().map((x) => Math.round(x * 10) / 10);
const t0 = Date.now();
const r = spawnSync(process.execPath, [path.join(root, 'test/harness/e2e.mjs'), '--result', path.join(os.tmpdir(), `rl-lens-workbench-harness-${process.pid}.json`)], {
  cwd: root, stdio: 'inherit', env: { ...process.env, RL_LENS_E2E_DIR: 'scripts/bench', RL_LENS_BENCH_OUT: tmp, RL_LENS_BENCH_BIG: process.argv.includes('--small') ? '0' : '1' },
});
const measured = fs.existsSync(tmp) ? JSON.parse(fs.readFileSync(tmp, 'utf8')) : {};
// measures that did not come up (a view that never painted): from the harness's result file
const harnessResult = path.join(os.tmpdir(), `rl-lens-workbench-harness-${process.pid}.json`);
try {
  const h = JSON.parse(fs.readFileSync(harnessResult, 'utf8'));
  measured.notMeasured = (h.tests ?? []).filter((t) => t.state !== 'passed').map((t) => ({ name: t.name, state: t.state, ms: t.ms, error: String(t.error ?? t.reason ?? '').split('\n')[0] }));
} catch { /* no result file */ }
fs.rmSync(harnessResult, { force: true });
fs.rmSync(tmp, { force: true });
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
