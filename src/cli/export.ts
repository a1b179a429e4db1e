/**
 * rl-lens export --model BASE --adapter ADAPTER_DIR --out DIR [--tokenizer PATH] [--backend B]
 *
 * Merges a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors, as RL Lens saves it during a LoRA run
 * or PEFT's save_pretrained writes it) into its base and writes a Hugging Face folder (config.json, model.safetensors,
 * tokenizer files) that `rl-lens generate --model DIR` and transformers load (src/trainer/model/export.ts).
 * BASE is what loadPretrained takes: a llama2.c .bin, a folder with one, a Hugging Face folder, hf:owner/repo[/subfolder].
 * Prints the folder and its files on stdout, notes on stderr.
 * Exit codes: 0 ok, 1 failed (bad adapter / base / out: the message names the file), 2 bad usage.
 */
import { BACKEND_CHOICES, initBackend } from '../trainer/backend';
import { exportMergedLora } from '../trainer/model/export';
import { backendValue, optionValue } from './args';

export interface ExportArgs { model: string; adapter: string; out: string; tokenizer?: string; backend: string }

export const EXPORT_USAGE = `usage: rl-lens export --model BASE --adapter ADAPTER_DIR --out DIR [--tokenizer PATH] [--backend ${BACKEND_CHOICES.join('|')}]
  Merges a PEFT LoRA adapter into its base (W + lora_alpha/r · B·A) and writes a Hugging Face folder:
  config.json, model.safetensors (float32), the tokenizer files. DIR must not exist or be empty.
`;

export function parseExportArgs(argv: string[]): ExportArgs {
  const a: Partial<ExportArgs> = { backend: 'auto' };
  const val = (i: number, f: string) => optionValue(argv, i, f);
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    switch (f) {
      case '--model': case '-m': a.model = val(i, f); i++; break;
      case '--adapter': a.adapter = val(i, f); i++; break;
      case '--out': case '-o': a.out = val(i, f); i++; break;
      case '--tokenizer': a.tokenizer = val(i, f); i++; break;
      case '--backend': a.backend = backendValue(argv, i, f); i++; break;
      default: throw new Error(`unknown option ${f}`);
    }
  }
  for (const k of ['model', 'adapter', 'out'] as const) if (!a[k]) throw new Error(`--${k} is required`);
  return a as ExportArgs;
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(EXPORT_USAGE); return 0; }
  let args: ExportArgs;
  try { args = parseExportArgs(argv); } catch (e) { process.stderr.write(`rl-lens export: ${(e as Error).message}\n${EXPORT_USAGE}`); return 2; }
  try {
    await initBackend(args.backend);
    const r = await exportMergedLora(args);
    for (const n of r.notes) process.stderr.write(`[rl-lens] note: ${n}\n`);
    process.stdout.write(`${r.out}: ${r.files.join(', ')} (${r.mergedLayers} LoRA layers merged into the ${r.base.format === 'llama2c' ? 'llama2.c' : 'Hugging Face'} base)\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`rl-lens export: ${(e as Error).message}\n`);
    return 1;
  }
}
