/**
 * Import cycles under a source folder (default src/), found with the TypeScript compiler API (already a dependency):
 * every static `import` / `export … from`, `import x = require()`, `require('…')` and `import('…')` of a relative
 * module is an edge, type-only imports included (a type-only cycle is still two modules that cannot be read, moved or
 * tested one without the other). A cycle is a strongly connected component of more than one file (or a file importing
 * itself); each is reported with one concrete loop through it.
 *
 *   npm run check:cycles              prints the cycles under src/ (exit 1 if there is any)
 *   node --import tsx scripts/check-cycles.ts DIR
 *
 * test/unit/structure-imports.test.ts runs the same check (and checks that it finds a planted cycle).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

export interface ImportEdge { from: string; to: string; typeOnly: boolean; line: number }
export interface ImportCycle {
  /** files of the strongly connected component, relative to the root, sorted */
  files: string[];
  /** one loop through the component: a → b → … → a (relative paths) */
  loop: string[];
}

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return d.name === 'node_modules' ? [] : walk(p);
    return /\.(ts|tsx|mts|cts)$/.test(d.name) && !d.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Module specifiers of one file with their kind (type-only or not) and line. */
export function importsOf(file: string, text = fs.readFileSync(file, 'utf8')): { spec: string; typeOnly: boolean; line: number }[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: { spec: string; typeOnly: boolean; line: number }[] = [];
  const add = (lit: ts.Expression | undefined, typeOnly: boolean) => {
    if (lit && ts.isStringLiteralLike(lit)) out.push({ spec: lit.text, typeOnly, line: sf.getLineAndCharacterOfPosition(lit.getStart()).line + 1 });
  };
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n)) {
      const c = n.importClause;
      // `import { type A, type B } from` is type-only too
      const allTypeNamed = !!c && !c.name && !!c.namedBindings && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly);
      add(n.moduleSpecifier, !!c && (c.isTypeOnly || allTypeNamed));
    } else if (ts.isExportDeclaration(n)) {
      if (n.moduleSpecifier) add(n.moduleSpecifier, n.isTypeOnly);
    } else if (ts.isImportEqualsDeclaration(n)) {
      if (ts.isExternalModuleReference(n.moduleReference)) add(n.moduleReference.expression, n.isTypeOnly);
    } else if (ts.isCallExpression(n)) {
      if (n.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(n.expression) && n.expression.text === 'require')) add(n.arguments[0], false);
    } else if (ts.isImportTypeNode(n)) {
      // `typeof import('../x')` in a type position
      if (ts.isLiteralTypeNode(n.argument)) add(n.argument.literal as ts.Expression, true);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** Edges between the files under `root` (relative imports that resolve to a file under `root`). */
export function importGraph(root: string, opts: { includeTypeOnly?: boolean } = {}): { files: string[]; edges: ImportEdge[] } {
  const abs = path.resolve(root);
  const files = walk(abs).sort();
  const known = new Set(files);
  const compilerOptions: ts.CompilerOptions = { moduleResolution: ts.ModuleResolutionKind.Node10, allowJs: false, resolveJsonModule: true };
  const edges: ImportEdge[] = [];
  for (const f of files) {
    for (const imp of importsOf(f)) {
      if (!imp.spec.startsWith('.')) continue;
      if (imp.typeOnly && opts.includeTypeOnly === false) continue;
      const r = ts.resolveModuleName(imp.spec, f, compilerOptions, ts.sys).resolvedModule;
      const target = r?.resolvedFileName ? path.resolve(r.resolvedFileName) : undefined;
      if (target && known.has(target)) edges.push({ from: f, to: target, typeOnly: imp.typeOnly, line: imp.line });
    }
  }
  return { files, edges };
}

/** Strongly connected components with a loop (Tarjan), each with one concrete loop (shortest from its first file). */
export function findCycles(files: string[], edges: { from: string; to: string }[], rel: (f: string) => string = (f) => f): ImportCycle[] {
  const adj = new Map<string, string[]>(files.map((f) => [f, []]));
  for (const e of edges) { if (!adj.has(e.from)) adj.set(e.from, []); if (!adj.has(e.to)) adj.set(e.to, []); adj.get(e.from)!.push(e.to); }
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), onStack = new Set<string>(), stack: string[] = [];
  const comps: string[][] = [];
  // iterative Tarjan (deep import chains must not overflow the call stack)
  for (const start of adj.keys()) {
    if (idx.has(start)) continue;
    const work: { v: string; i: number }[] = [{ v: start, i: 0 }];
    idx.set(start, index); low.set(start, index); index++; stack.push(start); onStack.add(start);
    while (work.length) {
      const top = work[work.length - 1];
      const next = adj.get(top.v)!;
      if (top.i < next.length) {
        const w = next[top.i++];
        if (!idx.has(w)) { idx.set(w, index); low.set(w, index); index++; stack.push(w); onStack.add(w); work.push({ v: w, i: 0 }); }
        else if (onStack.has(w)) low.set(top.v, Math.min(low.get(top.v)!, idx.get(w)!));
        continue;
      }
      work.pop();
      if (work.length) low.set(work[work.length - 1].v, Math.min(low.get(work[work.length - 1].v)!, low.get(top.v)!));
      if (low.get(top.v) === idx.get(top.v)) {
        const comp: string[] = [];
        let w: string;
        do { w = stack.pop()!; onStack.delete(w); comp.push(w); } while (w !== top.v);
        const selfLoop = comp.length === 1 && adj.get(comp[0])!.includes(comp[0]);
        if (comp.length > 1 || selfLoop) comps.push(comp);
      }
    }
  }
  return comps.map((comp) => {
    const inComp = new Set(comp);
    const sorted = [...comp].sort((a, b) => rel(a).localeCompare(rel(b)));
    const first = sorted[0];
    // BFS from `first` back to `first` inside the component
    const prev = new Map<string, string>();
    const queue = [first];
    let end: string | undefined;
    while (queue.length && !end) {
      const v = queue.shift()!;
      for (const w of adj.get(v)!) {
        if (!inComp.has(w)) continue;
        if (w === first) { end = v; break; }
        if (!prev.has(w)) { prev.set(w, v); queue.push(w); }
      }
    }
    const loop = [first];
    if (end !== undefined) {
      const back: string[] = [];
      for (let v: string | undefined = end; v !== undefined && v !== first; v = prev.get(v)) back.push(v);
      loop.push(...back.reverse(), first);
    }
    return { files: sorted.map(rel), loop: loop.map(rel) };
  }).sort((a, b) => a.files[0].localeCompare(b.files[0]));
}

/** The import cycles of the TypeScript files under `root` (type-only imports counted unless includeTypeOnly is false). */
export function importCycles(root: string, opts: { includeTypeOnly?: boolean } = {}): ImportCycle[] {
  const { files, edges } = importGraph(root, opts);
  const base = path.resolve(root);
  return findCycles(files, edges, (f) => path.relative(base, f).split(path.sep).join('/'));
}

export function formatCycles(cycles: ImportCycle[], rootLabel: string): string {
  if (!cycles.length) return `no import cycle under ${rootLabel}\n`;
  return `${cycles.length} import cycle(s) under ${rootLabel}:\n` + cycles.map((c, i) => `  ${i + 1}. ${c.files.length} files: ${c.loop.join(' → ')}${c.files.length > c.loop.length - 1 ? `\n     (component: ${c.files.join(', ')})` : ''}`).join('\n') + '\n';
}

const isMain = (() => { try { return path.resolve(process.argv[1] ?? '') === path.resolve(__filename); } catch { return false; } })();
if (isMain) {
  const dir = process.argv[2] ?? path.resolve(__dirname, '..', 'src');
  const cycles = importCycles(dir);
  process.stdout.write(formatCycles(cycles, path.relative(process.cwd(), dir) || dir));
  process.exitCode = cycles.length ? 1 : 0;
}
