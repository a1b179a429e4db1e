/** Command-line option parsing shared by the subcommands (train, generate, export, diff-tokens). */
import { BACKEND_CHOICES } from '../trainer/backend';

/** The value after option `flag` at argv[i]: an error (of `make`'s kind) when it is missing or, unless allowed, another option. */
export function optionValue(argv: string[], i: number, flag: string, o: { allowDash?: boolean; make?: (message: string) => Error } = {}): string {
  const v = argv[i + 1];
  if (v === undefined || (!o.allowDash && v.startsWith('--'))) throw (o.make ?? ((m: string) => new Error(m)))(`${flag} needs a value`);
  return v;
}

/** The value of `--backend` at argv[i], checked against BACKEND_CHOICES (an error of `make`'s kind names the allowed ones). */
export function backendValue(argv: string[], i: number, flag: string, o: { make?: (message: string) => Error } = {}): string {
  const v = optionValue(argv, i, flag, o);
  if (!BACKEND_CHOICES.includes(v as never)) throw (o.make ?? ((m: string) => new Error(m)))(`--backend ${v}: allowed: ${BACKEND_CHOICES.join(', ')}`);
  return v;
}
