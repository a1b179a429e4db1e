// What the .vsix holds (vsce applies .vscodeignore with minimatch: a file is packaged when no pattern matches it or a
// "!" pattern does). Checked against the files of the working tree: every runtime bundle in, sources/tests/maps out.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { minimatch } from 'minimatch';

const root = path.resolve(__dirname, '../..');
const lines = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const ignore = lines.filter((l) => !l.startsWith('!'));
const keep = lines.filter((l) => l.startsWith('!')).map((l) => l.slice(1));
const packaged = (f: string): boolean => !ignore.some((p) => minimatch(f, p, { dot: true })) || keep.some((p) => minimatch(f, p, { dot: true }));

test('.vscodeignore keeps the runtime files and drops sources, tests, maps and the benchmark', () => {
  for (const f of ['package.json', 'LICENSE', 'bin/rl-lens.js', 'dist/extension.js', 'dist/trainer.js', 'dist/webview-main.js', 'dist/parquet-worker.js',
    'dist/wasm/tfjs-backend-wasm.wasm', 'dist/schemas/config.schema.json', 'schemas/config.schema.json', 'media/rl-lens.svg', 'media/templates/sft-tiny.jsonc', 'media/walkthrough/first-run.md']) {
    assert.equal(packaged(f), true, `${f} must be in the .vsix`);
  }
  for (const f of ['src/extension.ts', 'test/unit/host-config.test.ts', 'test/fixtures/fake-trainer.js', 'dist/extension.js.map', 'dist/bench.js', 'node_modules/d3/package.json',
    'docs/run-format.md', 'scripts/build.mjs', 'tsconfig.json', '.test-cache/x', 'test-output/x.png', 'runs/a/manifest.json', 'python/rl_lens_logger.py']) {
    assert.equal(packaged(f), false, `${f} must not be in the .vsix`);
  }
});

test('the .vsix README is the marketplace README (the repo README links docs that are not packaged)', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const m = /--readme-path\s+(\S+)/.exec(pkg.scripts.package);
  assert.ok(m, `npm run package must pass --readme-path: ${pkg.scripts.package}`);
  const readme = fs.readFileSync(path.join(root, m[1]), 'utf8');
  assert.doesNotMatch(readme, /\]\((?!https?:)[^)]+\)/, 'no relative links (vsce cannot rewrite them without a repository)');
  assert.equal(packaged('README.md'), false, 'the repo README stays out (it would clash with the packaged readme.md)');
});

test('every JavaScript bundle the build writes (except the benchmark) is packaged', (t) => {
  const dist = path.join(root, 'dist');
  if (!fs.existsSync(dist)) { t.skip('no dist/ (run npm run build)'); return; }
  const bundles = fs.readdirSync(dist).filter((f) => f.endsWith('.js') && f !== 'bench.js');
  assert.ok(bundles.includes('extension.js') && bundles.includes('trainer.js'), `dist holds ${bundles.join(', ')}`);
  const missing = bundles.filter((f) => !packaged(`dist/${f}`));
  assert.deepEqual(missing, [], `add these bundles to .vscodeignore ("!dist/<name>.js"): ${missing.join(', ')}`);
});
