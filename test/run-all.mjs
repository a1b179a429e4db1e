// `npm test`: runs the test layers and prints one summary line "N passed, N failed" last.
//   node test/run-all.mjs                     all layers (unit, integration, e2e)
//   node test/run-all.mjs --layer unit        one layer (repeatable: --layer unit --layer e2e)
//   node test/run-all.mjs --grep PATTERN      only test files whose path matches PATTERN (every layer)
//   node test/run-all.mjs --test PATTERN      only tests whose name matches PATTERN (every layer)
//   node test/run-all.mjs --headed            integration / e2e: show the browser (needs a display, e.g. xvfb-run -a)
// Env: CI=true or RL_LENS_REQUIRE_ALL_LAYERS=1 makes a skipped layer fail. See docs/testing.md.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const layers = [];
let grep, grepSrc, testName;
const passThrough = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--layer') layers.push(args[++i]);
  else if (args[i] === '--grep') { grepSrc = args[++i]; grep = new RegExp(grepSrc); }
  else if (args[i] === '--test') testName = args[++i];
  else if (['--headed', '--trace', '--keep'].includes(args[i])) passThrough.push(args[i]);
  else if (['--slowmo', '--vscode'].includes(args[i])) passThrough.push(args[i], args[++i]);
  else { console.error(`unknown option ${args[i]} (see docs/testing.md)`); process.exit(2); }
}
const requireAll = process.env.CI === 'true' || process.env.CI === '1' || !!process.env.RL_LENS_REQUIRE_ALL_LAYERS;
const want = layers.length ? layers : ['unit', 'integration', 'e2e'];
const outDir = path.join(root, 'test-output');
fs.mkdirSync(outDir, { recursive: true });

function walk(dir, pred) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? walk(p, pred) : pred(p) ? [p] : [];
  });
}

const results = [];

function runUnit() {
  const files = walk(path.join(root, 'test/unit'), (p) => p.endsWith('.test.ts')).filter((f) => !grep || grep.test(f)).sort();
  if (!files.length && grep) return { layer: 'unit', passed: 0, failed: 0, skipped: 1, skippedReason: `no unit test file matches --grep ${grepSrc}`, note: `no file matches --grep ${grepSrc}` };
  if (!files.length) return { layer: 'unit', passed: 0, failed: 1, skipped: 0, note: 'no unit test files found' };
  // a file of this run's own (concurrent runs in one checkout must not read each other's counts), kept as unit.tap
  const tap = path.join(outDir, `unit.${process.pid}.tap`);
  const t0 = Date.now();
  // a hung test fails after RL_LENS_UNIT_TEST_TIMEOUT s (default 300) instead of hanging CI; the whole layer after
  // RL_LENS_UNIT_LAYER_TIMEOUT s (default 1500)
  const perTest = Number(process.env.RL_LENS_UNIT_TEST_TIMEOUT || 300) * 1000;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${perTest}`, ...(testName ? [`--test-name-pattern=${testName}`] : []),
    '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, RL_LENS_TEST: '1' }, timeout: Number(process.env.RL_LENS_UNIT_LAYER_TIMEOUT || 1500) * 1000, killSignal: 'SIGKILL' });
  const text = fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '';
  if (fs.existsSync(tap)) fs.renameSync(tap, path.join(outDir, 'unit.tap'));
  const num = (k) => Number((new RegExp(`^# ${k} (\\d+)`, 'm').exec(text) ?? [])[1] ?? 0);
  const passed = num('pass'), failed = num('fail') + num('cancelled'), skipped = num('skipped') + num('todo');
  const res = { layer: 'unit', passed, failed: failed + (r.status !== 0 && failed === 0 ? 1 : 0), skipped, seconds: (Date.now() - t0) / 1000 };
  if (r.error?.code === 'ETIMEDOUT' || r.signal === 'SIGKILL') { res.failed += 1; res.note = `unit layer killed after ${process.env.RL_LENS_UNIT_LAYER_TIMEOUT || 1500} s`; }
  if (passed + failed === 0) { res.failed += 1; res.note = res.note ?? 'ran no test'; }
  return res;
}

function runScriptLayer(layer, script) {
  // integration / e2e layers are driven by scripts that write a JSON result file
  const file = path.join(root, script);
  if (!fs.existsSync(file)) return { layer, passed: 0, failed: 0, skipped: 1, note: `${script} not present yet: layer skipped` };
  const resultFile = path.join(outDir, `${layer}-result.json`);
  fs.rmSync(resultFile, { force: true });
  const t0 = Date.now();
  const extra = [...(grepSrc ? ['--grep', grepSrc] : []), ...(testName ? ['--test', testName] : []), ...passThrough];
  const r = spawnSync(process.execPath, [file, '--result', resultFile, ...extra], { cwd: root, stdio: 'inherit', env: { ...process.env, RL_LENS_SKIP_BUILD: '1' } });
  let res;
  try { res = JSON.parse(fs.readFileSync(resultFile, 'utf8')); } catch { res = { passed: 0, failed: 1, skipped: 0, note: `${script} wrote no result (exit ${r.status})` }; }
  res.layer = layer;
  res.seconds = (Date.now() - t0) / 1000;
  if (r.status !== 0 && !res.failed && !res.skippedReason) res.failed = 1;
  if (requireAll && (res.skippedReason || (res.skipped && !res.passed && !res.failed))) {
    res.failed = (res.failed || 0) + 1;
    res.note = `${res.note ?? 'layer skipped'}; CI requires every layer to run`;
  }
  return res;
}

// integration and e2e test the built extension: build once here (the layer drivers then skip their own build)
let buildError;
if ((want.includes('integration') || want.includes('e2e')) && !process.env.RL_LENS_SKIP_BUILD) {
  const b = spawnSync(process.execPath, [path.join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) buildError = `node scripts/build.mjs failed (exit ${b.status})`;
}

for (const layer of want) {
  if (buildError && layer !== 'unit') { results.push({ layer, passed: 0, failed: 1, skipped: 0, note: buildError }); continue; }
  if (layer === 'unit') results.push(runUnit());
  else if (layer === 'integration') results.push(runScriptLayer('integration', 'test/harness/integration.mjs'));
  else if (layer === 'e2e') results.push(runScriptLayer('e2e', 'test/harness/e2e.mjs'));
  else { console.error(`unknown layer ${layer}`); process.exit(2); }
}

console.log('\n=== RL Lens test summary ===');
for (const r of results) console.log(`${r.layer.padEnd(12)} passed ${r.passed}  failed ${r.failed}  skipped ${r.skipped ?? 0}${r.seconds ? `  (${r.seconds.toFixed(1)} s)` : ''}${r.note ? `  [${r.note}]` : ''}`);
fs.writeFileSync(path.join(outDir, 'summary.json'), JSON.stringify(results, null, 2));
const P = results.reduce((a, r) => a + (r.passed || 0), 0);
const F = results.reduce((a, r) => a + (r.failed || 0), 0);
const S = results.reduce((a, r) => a + (r.skipped || 0), 0);
console.log(`${P} passed, ${F} failed${S ? `, ${S} skipped` : ''}`);
process.exit(F > 0 || P === 0 ? 1 : 0);
