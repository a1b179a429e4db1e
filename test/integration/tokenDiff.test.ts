// Runs INSIDE a real VS Code extension host: the token comparison commands (issue 21) on a real GRPO tiny run built
// by the CLI: rlLens.compareTokens computes in a trainer subprocess and opens the view (which asks the host for its
// overview and one page of samples), a second open reads the cache (no process), the tree's multi-select form, and
// Cancel kills the process (its pid is gone) and leaves no comparison folder behind.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { api, log, until } from './helpers';

interface Result { dir: string; cached: boolean; panel: { received: string[]; panel: vscode.WebviewPanel } }

describe('RL Lens token comparison', function () {
  this.timeout(180_000);
  let runDir: string;
  const ck = (n: string) => path.join(runDir, 'checkpoints', n);

  before(async function () {
    this.timeout(180_000);
    await api();
    const ext = vscode.extensions.getExtension('rl-lens.rl-lens')!;
    runDir = path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'runs', `it-tokdiff-${Date.now()}`);
    execFileSync(process.execPath, [path.join(ext.extensionPath, 'bin', 'rl-lens.js'), 'train', '--preset', 'grpo-arithmetic-tiny', '--steps', '10', '--out', runDir, '--backend', 'wasm'], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, timeout: 150_000, stdio: 'pipe' });
    log(`grpo tiny run: ${fs.readdirSync(path.join(runDir, 'checkpoints')).join(', ')}`);
  });
  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    if (runDir) fs.rmSync(runDir, { recursive: true, force: true });
  });

  it('computes in a trainer subprocess, opens the view (overview + one page asked for), then opens from the cache', async () => {
    const t = (await api()).tokenDiff;
    const before = t.processesStarted;
    const t0 = Date.now();
    const res = await vscode.commands.executeCommand<Result>('rlLens.compareTokens', { runDir, a: 'step_00000000_sft', b: 'step_00000010', completions: `${runDir}:10` });
    assert.ok(res, 'compareTokens returned nothing (see the RL Lens output channel)');
    log(`first comparison: ${Date.now() - t0} ms`);
    assert.equal(res.cached, false);
    assert.equal(t.processesStarted, before + 1);
    assert.equal(path.dirname(res.dir), path.join(ck('step_00000010'), 'token-diff'));
    assert.equal(res.panel.panel.title, 'RL Lens Tokens: step 0 → step 10 · step 10 rollouts', 'the title names the completions');
    await until('the view to ask for its overview and a page', () => res.panel.received.includes('request:tokenDiff/samples'), 30_000);
    assert.ok(res.panel.received.includes('notification:ready') && res.panel.received.includes('request:tokenDiff/summary'));
    // again: from the cache, no process, the same (revealed) panel
    const t1 = Date.now();
    const again = await vscode.commands.executeCommand<Result>('rlLens.compareTokens', { runDir, a: 'step_00000000_sft', b: 'step_00000010', completions: `${runDir}:10` });
    log(`second open: ${Date.now() - t1} ms`);
    assert.equal(again.cached, true); assert.equal(again.dir, res.dir);
    assert.equal(t.processesStarted, before + 1, 'no process for a cached comparison');
    assert.equal(again.panel, res.panel);
  });

  it('tree multi-select (clicked node, selected nodes): lower step is A; the same pair and step come from the cache', async () => {
    const t = (await api()).tokenDiff;
    const nodes = [{ kind: 'checkpoint', dir: ck('step_00000010') }, { kind: 'checkpoint', dir: ck('step_00000000_sft') }];
    // the completions quick pick: answer it with the first item (the newest rollout step, 10)
    const pending = vscode.commands.executeCommand<Result>('rlLens.compareTokens', nodes[0], nodes);
    await new Promise((r) => setTimeout(r, 1500));
    await vscode.commands.executeCommand('workbench.action.acceptSelectedQuickOpenItem');
    const res = await pending;
    assert.ok(res);
    assert.equal(res.cached, true, 'step 0 → step 10 on the rollouts of step 10: computed by the test before');
    assert.equal(t.processesStarted >= 1, true);
  });

  it('refuses two checkpoints with the same weights (step 10 and its step_00000010_final alias): no process, nothing opened', async () => {
    const t = (await api()).tokenDiff;
    const before = t.processesStarted;
    const res = await vscode.commands.executeCommand<Result | undefined>('rlLens.compareTokens', { runDir, a: 'step_00000010', b: 'step_00000010_final', completions: `${runDir}:10` });
    assert.equal(res, undefined, 'an all-zero comparison is not opened');
    assert.equal(t.processesStarted, before, 'no process started');
  });

  it('Cancel kills the diff-tokens process and leaves no comparison folder', async () => {
    const t = (await api()).tokenDiff;
    const jsonl = path.join(path.dirname(runDir), `it-tokdiff-big-${Date.now()}.jsonl`);
    fs.writeFileSync(jsonl, Array.from({ length: 20000 }, (_, i) => JSON.stringify({ prompt: `${i % 50}+${i % 7}=`, completion: `${(i % 50) + (i % 7)}` })).join('\n') + '\n');
    const pending = vscode.commands.executeCommand<Result | undefined>('rlLens.compareTokens', { runDir, a: 'step_00000000_sft', b: 'step_00000010_final', completions: jsonl });
    const pids = await until('the diff-tokens process', () => { const p = t.runningPids(); return p.length ? p : undefined; }, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    t.cancelAll();
    const res = await pending;
    assert.equal(res, undefined, 'a cancelled comparison opens nothing');
    await until('the process to be gone', () => { try { process.kill(pids[0], 0); return false; } catch { return true; } }, 10_000);
    assert.deepEqual(t.runningPids(), []);
    const cache = path.join(ck('step_00000010_final'), 'token-diff');
    const finished = fs.existsSync(cache) ? fs.readdirSync(cache).filter((d) => fs.existsSync(path.join(cache, d, 'summary.json'))) : [];
    assert.deepEqual(finished, [], 'no finished comparison written');
    fs.rmSync(jsonl, { force: true });
  });
});
