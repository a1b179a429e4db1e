// @vscode/test-cli configuration, for machines that can download VS Code (desktop, Electron).
// On machines that cannot (like our CI), `npm test` runs the same tests in code-server instead; see docs/testing.md.
//   node test/harness/integration.mjs --compile-only   # bundles test/integration/*.test.ts into out/integration/
//   npx vscode-test                                     # runs them in a downloaded VS Code 1.99.3
// Or, with the harness doing both and keeping the isolation flags: RL_LENS_VSCODE=electron npm run test:integration
import { defineConfig } from '@vscode/test-cli';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rl-lens-vscode-test-'));
const workspace = path.join(scratch, 'workspace');
fs.mkdirSync(workspace, { recursive: true });

export default defineConfig({
  label: 'integration',
  files: 'out/integration/*.test.js',
  version: process.env.RL_LENS_VSCODE_VERSION || '1.99.3',
  extensionDevelopmentPath: '.',
  workspaceFolder: workspace,
  env: { RL_LENS_TEST: '1', EXTENSIONS_GALLERY: '{}' },
  launchArgs: ['--disable-extensions', `--user-data-dir=${path.join(scratch, 'user-data')}`, `--extensions-dir=${path.join(scratch, 'extensions')}`,
    '--disable-workspace-trust', '--disable-telemetry', '--disable-updates', '--skip-welcome', '--skip-release-notes', '--disable-gpu'],
  mocha: { ui: 'bdd', timeout: 60_000, color: true },
});
