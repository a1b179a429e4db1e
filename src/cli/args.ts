/** Command-line option parsing shared by the subcommands (train, generate, export, diff-tokens). */

/** The value after option `flag` at argv[i]: an error (of `make`'s kind) when it is missing or, unless allowed, another option. */
export function optionValue(argv: string[], i: number, flag: string, o: { allowDash?: boolean; make?: (message: string) => Error } = {}): string {
  const v = argv[i + 1];
  if (v === undefined || (!o.allowDash && v.startsWith('--'))) throw (o.make ?? ((m: string) => new Error(m)))(`${flag} needs a value`);
  return v;
}
