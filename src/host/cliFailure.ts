/** The message of a failed `rl-lens` subprocess (cliProcess.ts), without vscode so unit tests can load it. */

/**
 * The error of a failed CLI run: "<name> exited with <code>: <its last stderr lines>", progress lines left out and
 * the CLI's own "<name>: " prefix dropped (not "rl-lens diff-tokens exited with 1: rl-lens diff-tokens: …").
 */
export function cliFailure(name: string, code: number | null, stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() && !l.startsWith('{"type":"progress"')).slice(-5).map((l) => (l.startsWith(`${name}: `) ? l.slice(name.length + 2) : l));
  return `${name} exited with ${code}${lines.length ? `: ${lines.join('\n')}` : ''}`;
}
