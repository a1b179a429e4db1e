/**
 * What "RL Lens: Install GPU Backend" runs (pure: no `vscode`, unit-tested): the package, its version (it must match
 * the bundled tfjs-core), the npm arguments, and the platform check.
 */
import * as fs from 'fs';
import * as path from 'path';

export const GPU_PACKAGE = '@tensorflow/tfjs-node-gpu';

/** The tfjs version the extension was built against (the GPU package must match tfjs-core). */
export function tfjsVersion(extensionPath: string): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(extensionPath, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    const v = pkg.dependencies?.['@tensorflow/tfjs-core'];
    if (v) return v.replace(/^[\^~]/, '');
  } catch { /* default */ }
  return '4.22.0';
}

/** Why the GPU backend cannot be installed on this platform, or undefined when it can. */
export function platformProblem(platform: string, arch: string): string | undefined {
  if (platform === 'linux' && arch === 'x64') return undefined;
  return `${GPU_PACKAGE} exists only for Linux x64 (this is ${platform}-${arch}). Use the "tensorflow" (native CPU) or "wasm" backend instead.`;
}

export function npmInstallArgs(version: string): string[] {
  // --no-save: the extension's package.json is not ours to edit; --ignore-scripts=false: the package's install
  // script fetches libtensorflow (npm may be configured to block scripts); --foreground-scripts: its output in our log
  return ['install', '--no-save', '--no-audit', '--no-fund', '--ignore-scripts=false', '--foreground-scripts', `${GPU_PACKAGE}@${version}`];
}

