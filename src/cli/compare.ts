/**
 * rl-lens compare [--preset NAME | --config FILE] --algorithms a,b,c [--out DIR] [--steps N] [--seed N] [--backend B]
 *
 * Runs the same config (task, model, warm start or init checkpoint, seed, steps) under each algorithm, one after the
 * other, then writes OUT/comparison.{json,md,html} (pass@1 / pass@k start → end, and curves of pass@k, reward, entropy,
 * KL, clip fractions, lengths). Each algorithm's run is a normal run directory OUT/<algorithm>/.
 * Example (the survey's clip-higher claim):  rl-lens compare --preset grpo-arithmetic --algorithms grpo,dapo,ppo --out runs/cmp
 * Multi-turn tool methods on one environment and budget (issue 20; the table adds policy tokens generated and tool calls
 * executed):  rl-lens compare --preset grpo-calc --algorithms grpo,gigpo,tree_grpo,arpo --steps 40 --seed 1
 */
import * as fs from 'fs';
import * as path from 'path';
import { PRESETS, deepMerge, loadConfigFile, resolveConfig } from '../trainer/config';
import { runTraining } from '../trainer/engine';
import { RL_ALGORITHMS } from '../trainer/rl/config';
import { summariseRun, writeComparison, type AlgorithmSummary } from '../trainer/rl/compare';

export const COMPARE_USAGE = 'usage: rl-lens compare [--preset NAME | --config FILE] --algorithms grpo,dapo,ppo [--out DIR] [--steps N] [--seed N] [--backend B]\n';

export async function run(argv: string[]): Promise<number> {
  const a: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (!k.startsWith('--') || i + 1 >= argv.length) { process.stderr.write(`rl-lens compare: bad argument ${k}\n${COMPARE_USAGE}`); return 2; }
    a[k.slice(2)] = argv[++i];
  }
  const algorithms = (a.algorithms ?? 'grpo,dapo').split(',').map((s) => s.trim()).filter(Boolean);
  for (const alg of algorithms) if (!(RL_ALGORITHMS as readonly string[]).includes(alg)) { process.stderr.write(`rl-lens compare: --algorithms: ${alg} is not an RL algorithm; allowed: ${RL_ALGORITHMS.join(', ')}\n`); return 2; }
  await new Promise((r) => setImmediate(r)); // presets registered by plug-ins
  let base: Record<string, unknown>;
  if (a.config) {
    // the raw file, not the resolved config: the `rl` defaults depend on the algorithm and are filled per run
    loadConfigFile(a.config); // validates (clear file:line errors)
    base = JSON.parse(fs.readFileSync(a.config, 'utf8')) as Record<string, unknown>;
  }
  else {
    const p = PRESETS[a.preset ?? 'grpo-arithmetic'];
    if (!p) { process.stderr.write(`rl-lens compare: --preset ${a.preset}: allowed ${Object.keys(PRESETS).join(', ')}\n`); return 2; }
    base = p();
  }
  delete base.derived;
  const out = path.resolve(a.out ?? path.join('runs', `compare-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  const summaries: AlgorithmSummary[] = [];
  for (const alg of algorithms) {
    const over: Record<string, unknown> = { algorithm: alg, name: `${base.name ?? 'compare'}-${alg}` };
    if (a.steps) over.train = { steps: Number(a.steps) };
    if (a.seed) over.seed = Number(a.seed);
    const cfg = resolveConfig(deepMerge(base, over));
    const t0 = Date.now();
    process.stderr.write(`[compare] ${alg} …\n`);
    const res = await runTraining(cfg, { outDir: path.join(out, alg), backend: a.backend, progress: (l) => process.stderr.write(`[${alg}] ${l}\n`) });
    summaries.push(summariseRun(alg, res.runDir, res.status, (Date.now() - t0) / 1000));
  }
  const files = writeComparison(out, { title: `${String(base.name ?? 'comparison')}: ${algorithms.join(' vs ')}`, createdAt: new Date().toISOString(), config: base, algorithms: summaries });
  process.stdout.write(`wrote ${files.map((f) => path.relative(process.cwd(), f)).join(', ')}\n`);
  return summaries.every((s) => s.status === 'completed') ? 0 : 1;
}
