// Mocha entry that runs INSIDE the VS Code extension host (code-server's, or Electron VS Code's via
// @vscode/test-electron). The harness (test/harness/integration.mjs) bundles every test/integration/*.test.ts
// next to this file and points VS Code's `extensionTestsPath` at it. Results are written as JSON next to this
// file (mocha-result.json), the exit status reaches the harness through the workbench. See docs/testing.md.
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';

interface Options { grep?: string; timeout?: number; files?: string[] }
interface TestRecord { title: string; file?: string; state: 'passed' | 'failed' | 'pending'; ms?: number; error?: string }

/** One pre-formatted line per event, prefixed so that the harness can pick them out of the forwarded console. */
class LineReporter extends Mocha.reporters.Base {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    const out = (s: string): void => console.log(`[rl-lens-test] ${s}`);
    runner.on('suite', (s) => { if (s.title) out(`${'  '.repeat(Math.max(0, depth(s) - 1))}${s.title}`); });
    runner.on('pass', (t) => out(`${'  '.repeat(depth(t.parent))}✔ ${t.title} (${t.duration ?? 0} ms)`));
    runner.on('pending', (t) => out(`${'  '.repeat(depth(t.parent))}- ${t.title} (skipped)`));
    runner.on('fail', (t, err: Error) => out(`${'  '.repeat(depth(t.parent))}✖ ${t.title}\n${String(err?.stack ?? err).split('\n').map((l) => `      ${l}`).join('\n')}`));
    runner.on('end', () => out(`${runner.stats?.passes ?? 0} passing, ${runner.stats?.failures ?? 0} failing, ${runner.stats?.pending ?? 0} pending`));
  }
}
function depth(s: Mocha.Suite | undefined): number { let d = 0; for (let p = s; p && p.title; p = p.parent) d++; return d; }

export function run(): Promise<void> {
  const optFile = path.join(__dirname, 'options.json');
  const opts: Options = fs.existsSync(optFile) ? JSON.parse(fs.readFileSync(optFile, 'utf8')) as Options : {};
  const mocha = new Mocha({ ui: 'bdd', color: false, reporter: LineReporter, timeout: opts.timeout ?? 60_000 });
  if (opts.grep) mocha.grep(new RegExp(opts.grep));
  const files = opts.files ?? fs.readdirSync(__dirname).filter((f) => f.endsWith('.test.js')).sort();
  for (const f of files) mocha.addFile(path.join(__dirname, f));
  const records: TestRecord[] = [];
  const resultFile = path.join(__dirname, 'mocha-result.json');
  const write = (extra: Record<string, unknown>): void => {
    const count = (s: TestRecord['state']): number => records.filter((r) => r.state === s).length;
    fs.writeFileSync(resultFile, JSON.stringify({ passed: count('passed'), failed: count('failed'), skipped: count('pending'), files, tests: records, ...extra }, null, 2));
  };
  return new Promise<void>((resolve, reject) => {
    try {
      const runner = mocha.run((failures) => {
        write({ failures, done: true });
        if (failures > 0) reject(new Error(`${failures} integration test(s) failed`));
        else if (records.length === 0) reject(new Error('no integration test ran'));
        else resolve();
      });
      // written after every test too, so that a crashed extension host still leaves what ran (done: false)
      runner.on('test', (t) => write({ done: false, running: t.fullTitle() }));
      runner.on('pass', (t) => { records.push({ title: t.fullTitle(), file: t.file && path.basename(t.file), state: 'passed', ms: t.duration }); write({ done: false }); });
      runner.on('pending', (t) => { records.push({ title: t.fullTitle(), file: t.file && path.basename(t.file), state: 'pending' }); write({ done: false }); });
      runner.on('fail', (t, err: Error) => { records.push({ title: t.fullTitle(), file: t.file && path.basename(t.file), state: 'failed', error: String(err?.stack ?? err) }); write({ done: false }); });
    } catch (e) {
      write({ failures: 1, done: true, crash: String((e as Error)?.stack ?? e) });
      reject(e);
    }
  });
}
