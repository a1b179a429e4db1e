// No import cycle anywhere under src/ (every world: trainer, host, webview, shared, runio, importers, doctor, report,
// cli). Type-only imports count too: a type-only cycle still ties two modules together (scripts/check-cycles.ts).
// `npm run check:cycles` prints the same list.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findCycles, formatCycles, importCycles, importsOf } from '../../scripts/check-cycles';

const root = path.resolve(__dirname, '../..');

test('no import cycle under src/ (type-only imports included)', () => {
  const cycles = importCycles(path.join(root, 'src'));
  assert.deepEqual(cycles, [], formatCycles(cycles, 'src'));
});

test('the detector finds a planted cycle (runtime, type-only, require, re-export, self import) and reports its loop', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-cycles-'));
  try {
    const w = (f: string, text: string) => { fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true }); fs.writeFileSync(path.join(dir, f), text); };
    w('a.ts', "import { b } from './sub/b';\nexport const a = () => b;\n");
    w('sub/b.ts', "import type { C } from '../c';\nexport const b = 1; export type B = C;\n");
    w('c.ts', "export type C = typeof import('./a');\n");
    w('d.ts', "const e = require('./e');\nexport const d = e;\n");
    w('e.ts', "export * from './d';\n");
    w('f.ts', "import './f';\n");
    w('leaf.ts', "import { a } from './a';\nexport const x = a;\n");
    const cycles = importCycles(dir);
    assert.deepEqual(cycles.map((c) => c.files), [['a.ts', 'c.ts', 'sub/b.ts'], ['d.ts', 'e.ts'], ['f.ts']]);
    assert.deepEqual(cycles[0].loop, ['a.ts', 'sub/b.ts', 'c.ts', 'a.ts']);
    assert.match(formatCycles(cycles, 'tmp'), /3 import cycle\(s\)/);
    // without type-only imports the a → b → c loop is gone (c → a and b → c are types only)
    assert.deepEqual(importCycles(dir, { includeTypeOnly: false }).map((c) => c.files), [['d.ts', 'e.ts'], ['f.ts']]);
    // and a tree without a loop has none
    fs.writeFileSync(path.join(dir, 'c.ts'), 'export type C = number;\n');
    fs.rmSync(path.join(dir, 'e.ts')); fs.rmSync(path.join(dir, 'f.ts'));
    assert.deepEqual(importCycles(dir), []);
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});

test('import kinds: type-only flags, dynamic import and require are edges', () => {
  const kinds = importsOf('x.ts', "import type { A } from './a';\nimport { type B } from './b';\nimport { C, type D } from './c';\nexport type { E } from './e';\nconst f = require('./f');\nvoid import('./g');\n");
  assert.deepEqual(kinds.map((k) => [k.spec, k.typeOnly]), [['./a', true], ['./b', true], ['./c', false], ['./e', true], ['./f', false], ['./g', false]]);
  assert.deepEqual(findCycles(['p', 'q'], [{ from: 'p', to: 'q' }, { from: 'q', to: 'p' }]).map((c) => c.loop), [['p', 'q', 'p']]);
});
