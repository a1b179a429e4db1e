/**
 * `rl-lens` command line. Bundled into dist/trainer.js (the trainer world: never imports `vscode`).
 * Each subcommand lives in its own module and exports `run(argv): Promise<number>` (the exit code).
 * The entry point registers the algorithm plug-ins (and their presets and config sections) once, here.
 */
import '../trainer/plugins';

export const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  train: { summary: 'train --config FILE [--out DIR] [--backend B] [--events stdout]   run a training job', load: () => import('./train') },
  validate: { summary: 'validate RUN_DIR                                   check a run directory against the schema', load: () => import('./validate') },
  import: { summary: 'import --from rllb|verl|trl PATH --out RUN_DIR      convert another trainer\'s logs', load: () => import('./import') },
  compare: { summary: 'compare --preset NAME --algorithms a,b [--out DIR]    same task/seed under several RL algorithms → comparison.html', load: () => import('./compare') },
  report: { summary: 'report CHECKPOINT_DIR [--base DIR|previous|first] [--samples N] [--json]   checkpoint report (weights, generations, pass@k)', load: () => import('./report') },
  doctor: { summary: 'doctor RUN_DIR [--json]                             diagnose RL pathologies', load: () => import('./doctor') },
  export: { summary: 'export --model BASE --adapter ADAPTER_DIR --out DIR      merge a PEFT LoRA adapter into its base → Hugging Face folder', load: () => import('./export') },
  'diff-tokens': { summary: 'diff-tokens CKPT_A CKPT_B --completions FILE|RUN_DIR[:STEP] [--out DIR] [--top-k 5]   what RL changed, token by token', load: () => import('./diffTokens') },
  generate: { summary: 'generate --model PATH_OR_ID [--prompt TEXT] [--temperature T] [--max-new-tokens N]   print a pretrained model\'s completion', load: () => import('./generate') },
};

export function usage(): string {
  return ['usage: rl-lens <command> [options]', '', ...Object.values(COMMANDS).map((c) => `  rl-lens ${c.summary}`), ''].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(usage());
    return cmd ? 0 : 2;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    process.stderr.write(`rl-lens: unknown command "${cmd}"\n${usage()}`);
    return 2;
  }
  const mod = await c.load();
  return mod.run(rest);
}
