// Builds the webview bundle of an earlier commit (default bd8f877: before issue 18's windowed heatmap) into
// .scratch/h18/old/dist/webview-main.js, for the old-vs-new columns of scripts/bench-webview.mjs (same run, same
// machine). Run: node scripts/bench-webview-old.mjs [REF]
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ref = process.argv[2] ?? 'bd8f877';
const dir = path.join(root, '.scratch/h18/old');
fs.rmSync(dir, { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
const tar = execFileSync('git', ['archive', ref, 'src'], { cwd: root, maxBuffer: 1 << 30 });
execFileSync('tar', ['-x', '-C', dir], { input: tar });
const esbuild = await import('esbuild');
await esbuild.build({ entryPoints: { 'webview-main': path.join(dir, 'src/webview/main.ts') }, bundle: true, outdir: path.join(dir, 'dist'), platform: 'browser', format: 'iife', target: 'es2022', nodePaths: [path.join(root, 'node_modules')], logLevel: 'warning' });
console.log(`bench-webview-old: ${ref} → ${path.relative(root, path.join(dir, 'dist/webview-main.js'))}`);
