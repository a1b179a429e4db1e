// placeholder until the owning issue lands: fails loudly
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('rl-lens doctor: not available in this build yet\n');
  return 2;
}
