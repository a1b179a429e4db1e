/**
 * `rl-lens import [--from rllb|verl|trl] PATH --out RUN_DIR [--name NAME] [--quiet]`
 * Converts another trainer's logs into an RL Lens run. Prints the detected format, counts, notes, and every problem
 * as file:line: reason. Exit code: 0 converted (problems are reported, not fatal), 1 nothing could be imported (the run
 * is written, marked failed, with the reasons), 2 usage / unusable input. A partly read source (e.g. a trainer_state.json
 * cut mid-file) is converted as far as it is whole and flagged PARTIAL, with what was lost.
 */
import { detectFormat, formatProblem, importRun, problemSummary, type ImportFormat } from '../importers/index';

const USAGE = 'usage: rl-lens import [--from rllb|verl|trl] PATH --out RUN_DIR [--name NAME] [--quiet]\n';

export async function run(argv: string[]): Promise<number> {
  let from: ImportFormat | undefined;
  let out: string | undefined;
  let name: string | undefined;
  let quiet = false;
  const pos: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--from') {
      const v = argv[++i];
      if (v !== 'rllb' && v !== 'verl' && v !== 'trl') { process.stderr.write(`rl-lens import: --from must be rllb, verl or trl (got ${JSON.stringify(v)})\n${USAGE}`); return 2; }
      from = v;
    } else if (a === '--out') out = argv[++i];
    else if (a === '--name') name = argv[++i];
    else if (a === '--quiet') quiet = true;
    else if (a === '--help' || a === '-h') { process.stdout.write(USAGE); return 0; }
    else if (a.startsWith('--')) { process.stderr.write(`rl-lens import: unknown option ${a}\n${USAGE}`); return 2; }
    else pos.push(a);
  }
  if (pos.length !== 1 || !out) { process.stderr.write(`rl-lens import: need one PATH and --out RUN_DIR\n${USAGE}`); return 2; }
  const src = pos[0];
  if (!from) {
    const d = detectFormat(src);
    process.stdout.write(`detected: ${d.format ?? 'unknown'} (${d.reason})\n`);
  }
  const t0 = Date.now();
  let r;
  try {
    r = await importRun(src, { from, out, name });
  } catch (e) {
    process.stderr.write(`rl-lens import: ${(e as Error).message}\n`);
    return 2;
  }
  const c = r.counts;
  process.stdout.write(`format: ${r.format}\n`);
  process.stdout.write(`converted into ${r.runDir} in ${((Date.now() - t0) / 1000).toFixed(2)} s\n`);
  process.stdout.write(`counts: ${Object.entries(c).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
  for (const n of r.notes) process.stdout.write(`note: ${n}\n`);
  for (const p of r.partial) process.stdout.write(`WARNING: PARTIAL import: ${p}\n`);
  if (r.problemCount) {
    process.stdout.write(`${problemSummary(r.problems, r.problemCount)}:\n`);
    if (!quiet) for (const p of r.problems) process.stdout.write(`  ${formatProblem(p)}\n`);
    if (r.problems.length < r.problemCount) process.stdout.write(`  ... ${r.problemCount - r.problems.length} more not kept in memory\n`);
  } else process.stdout.write('no problems found\n');
  if (r.empty) {
    process.stdout.write(`ERROR: nothing was imported (no rollouts, metrics or eval records); ${r.runDir} is marked failed\n`);
    return 1;
  }
  return 0;
}
