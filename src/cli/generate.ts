/**
 * rl-lens generate --model PATH_OR_ID [--tokenizer PATH] [--prompt TEXT] [--max-new-tokens N] [--temperature T]
 *                  [--top-p P] [--seed S] [--backend B]
 *
 * Prints the completion, and only the completion, on stdout (no prompt, no newline added); anything else goes to
 * stderr. Greedy (argmax) at temperature 0. The model: a llama2.c `.bin` (tokenizer beside it or --tokenizer), a
 * folder with one, a Hugging Face folder, or a hub id `hf:owner/repo[/subfolder]` (src/trainer/model/pretrained.ts).
 * Exit codes: 0 ok, 1 failed (bad model files: the message names the file), 2 bad usage.
 */
import { BACKEND_CHOICES, initBackend } from '../trainer/backend';
import { loadPretrained } from '../trainer/model/pretrained';
import { generate } from '../trainer/sampling';
import { backendValue, optionValue } from './args';

export interface GenerateArgs {
  model: string;
  tokenizer?: string;
  prompt: string;
  maxNewTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  backend: string;
}

export const GENERATE_USAGE = `usage: rl-lens generate --model PATH_OR_ID [--tokenizer PATH] [--prompt TEXT] [--max-new-tokens N]
                       [--temperature T] [--top-p P] [--seed S] [--backend ${BACKEND_CHOICES.join('|')}]
  Prints only the completion on stdout. Greedy at --temperature 0 (default 1). Default: 256 new tokens from BOS.
`;

export function parseGenerateArgs(argv: string[]): GenerateArgs {
  const a: Partial<GenerateArgs> = { prompt: '', maxNewTokens: 256, temperature: 1, topP: 1, seed: 0, backend: 'auto' };
  const val = (i: number, f: string) => optionValue(argv, i, f, { allowDash: true }); // a prompt may start with "--"
  const num = (i: number, f: string, ok: (x: number) => boolean, what: string) => { const v = Number(val(i, f)); if (!ok(v)) throw new Error(`${f} must be ${what}, got ${JSON.stringify(argv[i + 1])}`); return v; };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    switch (f) {
      case '--model': case '-m': a.model = val(i, f); i++; break;
      case '--tokenizer': a.tokenizer = val(i, f); i++; break;
      case '--prompt': case '-p': a.prompt = val(i, f); i++; break;
      case '--max-new-tokens': a.maxNewTokens = num(i, f, (x) => Number.isInteger(x) && x >= 1, 'a positive integer'); i++; break;
      case '--temperature': a.temperature = num(i, f, (x) => x >= 0, 'a number ≥ 0'); i++; break;
      case '--top-p': a.topP = num(i, f, (x) => x > 0 && x <= 1, 'in (0, 1]'); i++; break;
      case '--seed': a.seed = num(i, f, (x) => Number.isInteger(x) && x >= 0, 'a non-negative integer'); i++; break;
      case '--backend': a.backend = backendValue(argv, i, f); i++; break;
      default: throw new Error(`unknown option ${f}`);
    }
  }
  if (!a.model) throw new Error('--model is required');
  return a as GenerateArgs;
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(GENERATE_USAGE); return 0; }
  let args: GenerateArgs;
  try { args = parseGenerateArgs(argv); } catch (e) { process.stderr.write(`rl-lens generate: ${(e as Error).message}\n${GENERATE_USAGE}`); return 2; }
  try {
    await initBackend(args.backend);
    const p = await loadPretrained(args.model, { tokenizer: args.tokenizer, trainable: false });
    for (const n of p.source.notes) process.stderr.write(`[rl-lens] note: ${n}\n`);
    const tok = p.tokenizer;
    const ids = tok.encode(args.prompt, { bos: true });
    if (!ids.length) throw new Error(`the tokenizer has no BOS token and the prompt is empty: give --prompt`);
    const g = generate(p.model, [ids], {
      maxNewTokens: args.maxNewTokens, temperature: args.temperature, topP: args.topP, seed: args.seed,
      eos: tok.eos ?? -1, pad: tok.pad, banned: [],
    });
    // llama2.c stops at BOS too (run.c); a pretrained model's BOS mid-stream ends the text
    let out = g.tokens[0];
    const cut = out.findIndex((t) => t === tok.eos || (tok.kind === 'llama2c' && t === tok.bos));
    if (cut >= 0) out = out.slice(0, cut);
    process.stdout.write(tok.kind === 'llama2c' ? decodeAfter(tok, ids, out) : tok.decode(out));
    p.model.dispose();
    return 0;
  } catch (e) {
    process.stderr.write(`rl-lens generate: ${(e as Error).message}\n`);
    return 1;
  }
}

/** llama2.c prints each piece with decode(prev, token): the first generated piece after BOS loses its leading space. */
function decodeAfter(tok: { decode(ids: ArrayLike<number>): string }, prompt: number[], out: number[]): string {
  if (prompt.length === 1) return tok.decode([prompt[0], ...out]);
  // after a prompt: decode prompt + completion, drop the prompt's text
  const all = tok.decode([...prompt, ...out]), pre = tok.decode(prompt);
  return all.startsWith(pre) ? all.slice(pre.length) : tok.decode(out);
}
