/** RL Lens settings (contributes.configuration in package.json). */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';

export type BackendSetting = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface RlLensSettings {
  runsFolders: string[];
  backend: BackendSetting;
  nodePath: string;
  traceRetention: number;
  stopTimeoutSeconds: number;
  showProgressNotification: boolean;
  /** a tokenizer.json or model folder for runs with text but no tokens (src/host/tokenize.ts) */
  tokenizerPath: string;
  /** folders with local copies of hub models (RL_LENS_MODELS for the trainer; src/trainer/model/hub.ts modelMirrors) */
  modelFolders: string[];
}

export function readSettings(scope?: vscode.ConfigurationScope): RlLensSettings {
  const c = vscode.workspace.getConfiguration('rlLens', scope);
  return {
    runsFolders: c.get<string[]>('runsFolders', ['runs']),
    backend: c.get<BackendSetting>('backend', 'auto'),
    nodePath: c.get<string>('nodePath', ''),
    traceRetention: c.get<number>('traceRetention', 0),
    stopTimeoutSeconds: c.get<number>('stopTimeoutSeconds', 15),
    showProgressNotification: c.get<boolean>('showProgressNotification', true),
    tokenizerPath: c.get<string>('tokenizerPath', ''),
    modelFolders: c.get<string[]>('modelFolders', []),
  };
}

/**
 * The folders a run's trainer searches for local copies of hub models (RL_LENS_MODELS): rlLens.modelFolders (relative
 * entries against each workspace folder), then `shared/models` inside and beside each workspace folder when present
 * (where this project's machines keep the models they cannot download), then the trainer's own default (`../shared/models`
 * beside the extension). Undefined when there is nothing to add (the trainer's default and RL_LENS_MODELS as set apply).
 */
export function modelFolderPaths(): string | undefined {
  if (process.env.RL_LENS_MODELS !== undefined) return undefined; // set by the user for VS Code itself: it wins
  const wss = (vscode.workspace.workspaceFolders ?? []).map((w) => w.uri.fsPath);
  const out: string[] = [];
  for (const entry of readSettings().modelFolders) {
    const e = entry.startsWith('~/') ? path.join(process.env.HOME ?? '', entry.slice(2)) : entry;
    if (path.isAbsolute(e)) out.push(e); else for (const w of wss) out.push(path.resolve(w, e));
  }
  for (const w of wss) for (const d of [path.join(w, 'shared', 'models'), path.resolve(w, '..', 'shared', 'models')]) if (fs.existsSync(d)) out.push(d);
  return out.length ? [...new Set(out)].join(path.delimiter) : undefined;
}

/**
 * Absolute runs folders: each configured entry, resolved against every workspace folder when relative
 * (absolute entries and `~/` are used as they are). Without a workspace: the extension's global storage.
 */
export function runsFolderPaths(globalStorage: string): string[] {
  const s = readSettings();
  const out: string[] = [];
  const wss = vscode.workspace.workspaceFolders ?? [];
  for (const entry of s.runsFolders) {
    const e = entry.startsWith('~/') ? path.join(process.env.HOME ?? '', entry.slice(2)) : entry;
    if (path.isAbsolute(e)) out.push(e);
    else for (const ws of wss) if (ws.uri.scheme === 'file') out.push(path.join(ws.uri.fsPath, e));
  }
  if (!wss.length) out.push(path.join(globalStorage, 'runs'));
  return [...new Set(out.map((p) => path.resolve(p)))];
}

/** Where a new run goes: the first runs folder. */
export function defaultRunsFolder(globalStorage: string): string {
  return runsFolderPaths(globalStorage)[0] ?? path.join(globalStorage, 'runs');
}
