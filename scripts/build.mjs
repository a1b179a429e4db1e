// esbuild: one bundle per world (extension host, trainer subprocess, webviews) plus the benchmark.
// Usage: node scripts/build.mjs [--watch] [--production]
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
const dist = path.join(root, 'dist');
fs.mkdirSync(dist, { recursive: true });

// native tfjs-node backends are loaded at run time if installed; never bundled
const nativeExternals = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'warning', absWorkingDir: root };

const exists = (p) => fs.existsSync(path.join(root, p));
const builds = [];
// 1. extension host
if (exists('src/extension.ts')) builds.push({ ...common, entryPoints: { extension: 'src/extension.ts' }, outdir: dist, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode', ...nativeExternals] });
// 2. trainer subprocess (CLI) + benchmark: never imports vscode
const trainerEntries = {};
if (exists('src/cli/main.ts')) trainerEntries.trainer = 'src/cli/main.ts';
if (exists('src/trainer/bench.ts')) trainerEntries.bench = 'src/trainer/bench.ts';
// parquet decoding for the TRL importer runs in a worker thread (src/importers/trl.ts looks for dist/parquet-worker.js)
if (exists('src/importers/parquetWorker.ts')) trainerEntries['parquet-worker'] = 'src/importers/parquetWorker.ts';
// the run doctor of the extension host runs in a worker thread (src/host/diagnosis.ts looks for dist/doctor-worker.js)
if (exists('src/host/doctor/worker.ts')) trainerEntries['doctor-worker'] = 'src/host/doctor/worker.ts';
if (Object.keys(trainerEntries).length) builds.push({ ...common, entryPoints: trainerEntries, outdir: dist, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode', ...nativeExternals] });
// 3. webviews (browser)
const webEntries = {};
for (const f of ['heatmap', 'dashboard', 'group', 'main']) if (exists(`src/webview/${f}.ts`)) webEntries[`webview-${f}`] = `src/webview/${f}.ts`;
if (Object.keys(webEntries).length) builds.push({ ...common, entryPoints: webEntries, outdir: dist, platform: 'browser', format: 'iife', target: 'es2022', loader: { '.css': 'css' } });

// wasm binaries of the tfjs wasm backend travel next to the trainer bundle
const wasmSrc = path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
fs.mkdirSync(path.join(dist, 'wasm'), { recursive: true });
for (const f of fs.readdirSync(wasmSrc).filter((f) => f.endsWith('.wasm'))) fs.copyFileSync(path.join(wasmSrc, f), path.join(dist, 'wasm', f));
// schemas travel with the bundles
if (exists('schemas')) fs.cpSync(path.join(root, 'schemas'), path.join(dist, 'schemas'), { recursive: true });

if (watch) {
  for (const b of builds) (await esbuild.context(b)).watch();
  console.log('[build] watching');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
