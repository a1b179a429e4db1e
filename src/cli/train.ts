/**
 * rl-lens train [--config FILE | --preset NAME] [--out DIR] [--runs-root DIR] [--backend B] [--events stdout]
 *                [--steps N] [--seed N] [--untrusted]
 *
 * Human progress goes to stderr. With `--events stdout`, stdout carries exactly one JSON TrainerEvent per line (the same
 * events written to RUN_DIR/events.jsonl) and stdin accepts control lines (ControlMessage, src/shared/control.ts):
 * {"type":"stop"} ends the current step, writes a checkpoint and marks the run stopped (as SIGTERM does); other
 * lines are reported on stderr and ignored.
 * Exit codes: 0 completed or stopped, 1 failed, 2 bad usage / config.
 */
import * as readline from 'readline';
import { BACKEND_CHOICES } from '../trainer/backend';
import { ConfigError, PRESETS, deepMerge, loadConfigFile, resolveConfig, type TrainConfig } from '../trainer/config';
import { StopSignal, runTraining, type RunResult } from '../trainer/engine';
import type { TrainerEvent } from '../shared/runFormat';
import { parseControlMessage } from '../shared/control';
import { backendValue, optionValue } from './args';

export interface TrainArgs {
  config?: string;
  preset?: string;
  out?: string;
  runsRoot?: string;
  backend?: string;
  events?: 'stdout' | 'none';
  steps?: number;
  seed?: number;
  trusted: boolean;
}

/** Usage text; built when asked (the algorithm plugins add their presets after this module loads). */
export function trainUsage(): string {
  return `usage: rl-lens train [--config FILE | --preset NAME] [--out DIR] [--runs-root DIR]
                    [--backend ${BACKEND_CHOICES.join('|')}] [--events stdout] [--steps N] [--seed N] [--untrusted]
  Without --config, runs the built-in default preset (grpo-stories: GRPO with clip-higher on the pretrained
  stories260K, about a minute on 2 cores).
  Presets: ${Object.keys(PRESETS).join(', ')}
`;
}

export class UsageError extends Error {}

export function parseTrainArgs(argv: string[]): TrainArgs {
  // the extension runs the CLI with --untrusted (or RL_LENS_UNTRUSTED=1) in an untrusted workspace: no user reward code
  const a: TrainArgs = { trusted: process.env.RL_LENS_UNTRUSTED !== '1' };
  const val = (i: number, flag: string): string => optionValue(argv, i, flag, { make: (m) => new UsageError(m) });
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    switch (f) {
      case '--config': case '-c': a.config = val(i, f); i++; break;
      case '--preset': a.preset = val(i, f); i++; break;
      case '--out': case '-o': a.out = val(i, f); i++; break;
      case '--runs-root': a.runsRoot = val(i, f); i++; break;
      case '--backend': a.backend = backendValue(argv, i, f, { make: (m) => new UsageError(m) }); i++; break;
      case '--events': { const v = val(i, f); i++; if (v !== 'stdout' && v !== 'none') throw new UsageError(`--events ${v}: allowed: stdout, none`); a.events = v; break; }
      case '--steps': { const v = Number(val(i, f)); i++; if (!Number.isInteger(v) || v < 1) throw new UsageError(`--steps must be a positive integer`); a.steps = v; break; }
      case '--seed': { const v = Number(val(i, f)); i++; if (!Number.isInteger(v) || v < 0) throw new UsageError(`--seed must be a non-negative integer`); a.seed = v; break; }
      case '--untrusted': a.trusted = false; break;
      case '--help': case '-h': throw new UsageError('');
      default: throw new UsageError(`unknown option ${JSON.stringify(f)}`);
    }
  }
  if (a.config && a.preset) throw new UsageError('give either --config or --preset, not both');
  if (a.preset && !PRESETS[a.preset]) throw new UsageError(`--preset ${a.preset}: allowed: ${Object.keys(PRESETS).join(', ')}`);
  return a;
}

/** Resolve the config named by the arguments (file or preset) with command-line overrides. */
export function configFromArgs(a: TrainArgs): TrainConfig {
  const overrides: Record<string, unknown> = {};
  if (a.steps !== undefined) overrides.train = { steps: a.steps };
  if (a.seed !== undefined) overrides.seed = a.seed;
  if (a.backend !== undefined) overrides.backend = a.backend;
  if (a.config) return loadConfigFile(a.config, overrides);
  const preset = PRESETS[a.preset ?? 'default']();
  return resolveConfig(deepMerge(preset, overrides), { file: `preset ${a.preset ?? 'default'}` });
}

/** In-process entry: run a training job from CLI-style arguments. */
export async function train(a: TrainArgs, hooks: { onEvent?: (e: TrainerEvent) => void; progress?: (l: string) => void; stop?: StopSignal } = {}): Promise<RunResult> {
  const cfg = configFromArgs(a);
  return runTraining(cfg, { outDir: a.out, runsRoot: a.runsRoot, onEvent: hooks.onEvent, progress: hooks.progress, trusted: a.trusted, stop: hooks.stop });
}

export async function run(argv: string[]): Promise<number> {
  let a: TrainArgs;
  try {
    a = parseTrainArgs(argv);
  } catch (e) {
    const m = (e as Error).message;
    process.stderr.write(`${m ? `rl-lens train: ${m}\n` : ''}${trainUsage()}`);
    return m ? 2 : 0;
  }
  const eventsOnStdout = a.events === 'stdout';
  const writeErr = (l: string) => { process.stderr.write(l + '\n'); };
  // stdout is the event channel: nothing else may print there (tfjs and libraries use console.log)
  if (eventsOnStdout) {
    console.log = (...args: unknown[]) => writeErr(args.map(String).join(' '));
    console.info = console.log;
  }
  const stop = new StopSignal();
  let sigCount = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    sigCount++;
    if (sigCount > 1 && sig === 'SIGINT') { writeErr('[rl-lens] second interrupt: exiting now'); process.exit(130); }
    writeErr(`[rl-lens] ${sig}: finishing the current step, then writing a checkpoint`);
    stop.request(sig);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  let rl: readline.Interface | undefined;
  if (eventsOnStdout) {
    rl = readline.createInterface({ input: process.stdin, terminal: false });
    rl.on('line', (line) => {
      const s = line.trim();
      if (!s) return;
      const msg = parseControlMessage(s);
      if (!msg.ok) { writeErr(`[rl-lens] ignoring stdin line: ${msg.error}`); return; }
      switch (msg.message.type) {
        case 'stop': writeErr('[rl-lens] stop message received: finishing the current step'); stop.request('stop message'); break;
      }
    });
    rl.on('error', () => undefined);
  }
  try {
    const res = await train(a, {
      stop,
      progress: writeErr,
      onEvent: eventsOnStdout ? (e) => { process.stdout.write(JSON.stringify(e, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)) + '\n'); } : undefined,
    });
    return res.status === 'failed' ? 1 : 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      writeErr(`rl-lens train: invalid config:\n${e.message}`);
      return 2;
    }
    writeErr(`rl-lens train: ${(e as Error).message}`);
    return e instanceof UsageError ? 2 : 1;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    rl?.close();
    if (eventsOnStdout) process.stdin.destroy();
  }
}
