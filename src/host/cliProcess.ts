/**
 * One `rl-lens` CLI subcommand as a trainer subprocess of the extension host (the host never loads tfjs): the
 * configured Node (rlLens.nodePath, else VS Code's own as Node), the bundled bin/rl-lens.js, the rlLens.backend
 * setting, progress from `{"type":"progress","message",…}` JSON lines on stderr, and cancellation that kills the
 * process. Used by the checkpoint report (checkpointDiff) and the token comparison (tokenDiff).
 */
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';
import type * as vscode from 'vscode';
import { modelFolderPaths, readSettings } from './settings';
import { cliFailure } from './cliFailure';

export { cliFailure };

export interface CliProgress { message: string; done?: number; total?: number }

export interface CliRunOptions {
  extensionPath: string;
  /** subcommand and its arguments (the backend setting is appended when it is not auto) */
  args: string[];
  token?: vscode.CancellationToken;
  onProgress?: (p: CliProgress) => void;
  log?: (message: string) => void;
  /** the running processes of the caller (killed on its dispose) */
  running?: Set<ChildProcess>;
}

/** Run the CLI; its stdout when it exits 0, undefined when cancelled; rejects with the last stderr lines otherwise. */
export function runCli(o: CliRunOptions): Promise<string | undefined> {
  const configured = readSettings().nodePath.trim();
  const nodePath = configured || process.execPath;
  const env = { ...process.env };
  if (configured) delete env.ELECTRON_RUN_AS_NODE; else env.ELECTRON_RUN_AS_NODE = '1';
  const models = modelFolderPaths();
  if (models) env.RL_LENS_MODELS = `${models}${path.delimiter}${path.resolve(o.extensionPath, '..', 'shared', 'models')}`;
  const cli = path.join(o.extensionPath, 'bin', 'rl-lens.js');
  const backend = readSettings().backend;
  const args = [cli, ...o.args, ...(backend && backend !== 'auto' ? ['--backend', backend] : [])];
  const name = `rl-lens ${o.args[0] ?? ''}`.trim();
  o.log?.(`${o.args[0]}: ${nodePath} ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    if (o.token?.isCancellationRequested) return resolve(undefined);
    const child = spawn(nodePath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    o.running?.add(child);
    let out = ''; let err = ''; let partial = ''; let cancelled = false;
    const sub = o.token?.onCancellationRequested(() => { cancelled = true; child.kill('SIGKILL'); });
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        try { const ev = JSON.parse(line) as { type?: string } & Partial<CliProgress>; if (ev.type === 'progress' && ev.message) o.onProgress?.({ message: ev.message, done: ev.done, total: ev.total }); } catch { /* plain stderr */ }
      }
    });
    child.on('error', (e) => { o.running?.delete(child); sub?.dispose(); reject(new Error(`could not start ${nodePath} (check the rlLens.nodePath setting): ${e.message}`)); });
    child.on('close', (code) => {
      o.running?.delete(child); sub?.dispose();
      if (cancelled) return resolve(undefined);
      if (code !== 0) return reject(new Error(cliFailure(name, code, err)));
      resolve(out);
    });
  });
}
