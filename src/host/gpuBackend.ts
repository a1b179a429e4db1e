/**
 * "RL Lens: Install GPU Backend": installs @tensorflow/tfjs-node-gpu into the extension's own folder with
 * npm (install scripts allowed: its install script downloads libtensorflow), with progress, cancel and a
 * clear result. It is never bundled in the .vsix (native, ~400 MB with CUDA libraries).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';

import { GPU_PACKAGE, npmInstallArgs, platformProblem, tfjsVersion } from './gpuInstallPlan';

export async function installGpuBackend(extensionPath: string, out: vscode.OutputChannel): Promise<boolean> {
  const problem = platformProblem(process.platform, process.arch);
  if (problem) { void vscode.window.showErrorMessage(`RL Lens: ${problem}`); return false; }
  const version = tfjsVersion(extensionPath);
  const npm = 'npm';
  const args = npmInstallArgs(version);
  out.show(true);
  out.appendLine(`$ cd ${extensionPath} && ${npm} ${args.join(' ')}`);
  out.appendLine('Needs: Linux x64, an NVIDIA driver, CUDA 11.2 and cuDNN 8.1 (tfjs-node-gpu 4.x), and network access to the npm registry and to storage.googleapis.com (libtensorflow).');
  const t0 = Date.now();
  const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `RL Lens: installing ${GPU_PACKAGE}@${version}`, cancellable: true }, (progress, token) =>
    new Promise<{ code: number | null; error?: string; cancelled?: boolean }>((resolve) => {
      const child = spawn(npm, args, { cwd: extensionPath, env: { ...process.env, npm_config_yes: 'true' }, detached: true });
      const onData = (b: Buffer) => {
        const s = b.toString('utf8');
        out.append(s);
        const last = s.trim().split('\n').at(-1);
        if (last) progress.report({ message: last.slice(0, 100) });
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      token.onCancellationRequested(() => { try { process.kill(-child.pid!, 'SIGTERM'); } catch { child.kill(); } resolve({ code: null, cancelled: true }); });
      child.on('error', (e) => resolve({ code: null, error: `could not run ${npm}: ${e.message} (is Node.js with npm on the PATH?)` }));
      child.on('close', (code) => resolve({ code }));
    }));
  const secs = ((Date.now() - t0) / 1000).toFixed(0);
  if (result.cancelled) { out.appendLine('cancelled'); void vscode.window.showWarningMessage('RL Lens: GPU backend installation cancelled.'); return false; }
  const installed = fs.existsSync(path.join(extensionPath, 'node_modules', ...GPU_PACKAGE.split('/'), 'package.json'));
  if (result.code === 0 && installed) {
    out.appendLine(`installed in ${secs} s`);
    const pick = await vscode.window.showInformationMessage(`RL Lens: ${GPU_PACKAGE}@${version} installed (${secs} s). New runs with backend "auto" or "tensorflow-gpu" use it; the run's manifest and log name the GPU found.`, 'Use tensorflow-gpu', 'Show Log');
    if (pick === 'Use tensorflow-gpu') await vscode.workspace.getConfiguration('rlLens').update('backend', 'tensorflow-gpu', vscode.ConfigurationTarget.Global);
    if (pick === 'Show Log') out.show();
    return true;
  }
  const why = result.error ?? `npm exited with code ${result.code}${!installed && result.code === 0 ? ' but the package is not in node_modules' : ''}`;
  out.appendLine(`FAILED: ${why}`);
  const pick = await vscode.window.showErrorMessage(`RL Lens: installing ${GPU_PACKAGE} failed: ${why}. It needs network access (npm registry + libtensorflow download), Linux x64, CUDA 11.2 + cuDNN 8.1. The wasm and cpu backends keep working.`, 'Show Log');
  if (pick) out.show();
  return false;
}
