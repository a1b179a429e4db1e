// Shared by the integration tests (each test file is bundled on its own, so this is imported, not a test).
import * as assert from 'assert';
import * as vscode from 'vscode';
import type { RlLensApi } from '../../src/extension';

export const EXTENSION_ID = 'rl-lens.rl-lens';
export const log = (s: string): void => console.log(`[rl-lens-test] ${s}`);

/** The running extension's API (activating it if needed). */
export async function api(): Promise<RlLensApi> {
  const ext = vscode.extensions.getExtension<RlLensApi>(EXTENSION_ID);
  assert.ok(ext, 'extension not loaded');
  return ext.activate();
}

/** The test workspace (fresh for each layer run). */
export function ws(): string { return vscode.workspace.workspaceFolders![0].uri.fsPath; }

/** Poll `f` every 100 ms until it returns something truthy, or fail after `ms`. */
export async function until<T>(what: string, f: () => T | undefined | false | Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
