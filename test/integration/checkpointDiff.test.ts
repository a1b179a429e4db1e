// Runs INSIDE a real VS Code extension host (see docs/testing.md): a real tiny run (PRESETS.tiny, built by the CLI in
// setup), then Compare Checkpoints → vscode.diff of two read-only `rl-lens:` report documents; both documents' contents,
// the diff tab, the on-disk cache (a second diff starts no process), identical checkpoints, compare with previous.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { EXTENSION_ID, log } from './helpers';


interface CompareResult { left: vscode.Uri; right: vscode.Uri; title: string; computed: number }

function section(text: string, title: RegExp): string {
  const lines = text.split('\n');
  const i = lines.findIndex((l) => title.test(l));
  assert.ok(i >= 0, `no section ${title} in:\n${text}`);
  const j = lines.findIndex((l, k) => k > i && l.startsWith('## '));
  return lines.slice(i + 1, j < 0 ? undefined : j).join('\n');
}

describe('RL Lens checkpoint diff', function () {
  this.timeout(180_000);
  let runDir: string;
  const ck = (n: string) => path.join(runDir, 'checkpoints', n);

  before(async function () {
    this.timeout(180_000);
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, 'extension not loaded');
    await ext.activate();
    runDir = path.join(vscode.workspace.workspaceFolders![0].uri.fsPath, 'runs', `it-ckdiff-${Date.now()}`);
    const t0 = Date.now();
    execFileSync(process.execPath, [path.join(ext.extensionPath, 'bin', 'rl-lens.js'), 'train', '--preset', 'tiny', '--out', runDir, '--backend', 'wasm'], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, timeout: 150_000, stdio: 'pipe' });
    log(`tiny run built in ${Date.now() - t0} ms: ${fs.readdirSync(path.join(runDir, 'checkpoints')).join(', ')}`);
  });
  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    if (runDir) fs.rmSync(runDir, { recursive: true, force: true });
  });

  it('Compare Checkpoints opens a diff of two report documents with the right contents', async () => {
    const t0 = Date.now();
    const res = await vscode.commands.executeCommand<CompareResult>('rlLens.compareCheckpoints', { runDir, a: 'step_00000010', b: 'step_00000020', samples: 4, prompts: 6 });
    assert.ok(res, 'compare returned nothing (see the RL Lens output channel)');
    log(`first diff (2 reports computed in the trainer subprocess): ${Date.now() - t0} ms, computed ${res.computed}`);
    assert.equal(res.computed, 2);
    assert.equal(res.title, 'RL Lens: step 10 ↔ step 20 (tiny-sft)');
    assert.equal(res.left.scheme, 'rl-lens');
    // the diff editor is open on exactly these two documents
    const tab = vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.toString() === res.right.toString());
    assert.ok(tab, `no diff tab; tabs: ${vscode.window.tabGroups.all.flatMap((g) => g.tabs).map((t) => t.label).join(' | ')}`);
    assert.equal(tab.label, res.title);
    assert.equal((tab.input as vscode.TabInputTextDiff).original.toString(), res.left.toString());

    const left = await vscode.workspace.openTextDocument(res.left);
    const right = await vscode.workspace.openTextDocument(res.right);
    assert.equal(left.languageId, 'rl-lens-report');
    assert.equal(right.languageId, 'rl-lens-report');
    const L = left.getText(), R = right.getText();
    assert.match(L, /^# RL Lens checkpoint report: step_00000010 \(step 10\)$/m);
    assert.match(R, /^# RL Lens checkpoint report: step_00000020 \(step 20\)$/m);
    assert.match(L, /^run: {8}tiny-sft/m);
    assert.match(R, /^base: {7}step_00000010 \(step 10\)$/m);
    assert.match(R, /^algorithm: {2}sft$/m);
    assert.match(R, /^Most changed tensors/m, 'the right side ranks tensors by relative change');
    // every tensor row of the right side has a non-zero relative change; the left is step 10 alone (no base-vs-itself pane)
    const rows = (t: string) => section(t, /^## Weights/).split('\n').filter((l) => /^(wte|wpe|h\.|ln_f|lm_head)/.test(l));
    assert.equal(rows(R).length, 17);
    assert.match(L, /^base: {7}— \(none\)$/m, 'the left report has no base');
    assert.ok(!/\(itself\)/.test(L) && !/%$/m.test(section(L, /^## Weights/)), 'no relative change against itself');
    assert.ok(!L.includes('\u2212') && !R.includes('\u2212'), 'ASCII minus only (VS Code boxes U+2212)');
    assert.ok(rows(R).every((l) => /\d\.\d\d%$/.test(l) && !/ 0\.00%$/.test(l)), rows(R).join('\n'));
    // generations on the same fixed eval prompts, line by line
    const gens = (t: string) => section(t, /^## Generations/).split('\n').filter((l) => /^\[\d{3}\]/.test(l));
    assert.equal(gens(L).length, 6);
    assert.deepEqual(gens(L).map((l) => l.split(' → ')[0].slice(8)), gens(R).map((l) => l.split(' → ')[0].slice(8)), 'same prompts in the same order');
    // pass@k with base and this side by side (k = 1, 2, 4 for n = 4)
    const pk = section(R, /^## pass@k/);
    assert.match(pk, /^n = 4 samples per prompt, 6 prompts/m);
    for (const k of [1, 2, 4]) assert.match(pk, new RegExp(`^pass@${k} +[\\d.]+ +[\\d.]+ +[+±-]`, 'm'));
    assert.match(pk, /^chart/m);
  });

  it('the pass@k section has a CodeLens that opens the base-vs-this chart (script-free webview)', async () => {
    const res = await vscode.commands.executeCommand<CompareResult>('rlLens.compareCheckpoints', { runDir, a: 'step_00000010', b: 'step_00000020', samples: 4, prompts: 6 });
    assert.ok(res);
    await vscode.workspace.openTextDocument(res.right);
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', res.right);
    const lens = lenses.find((l) => l.command?.command === 'rlLens.showPassAtKChart');
    assert.ok(lens, `lenses: ${lenses.map((l) => l.command?.title).join(', ')}`);
    const html = await vscode.commands.executeCommand<string>(lens.command!.command, ...(lens.command!.arguments ?? []));
    assert.ok(html, 'no chart');
    assert.equal((html.match(/<polyline /g) ?? []).length, 2, 'base and this curves');
    assert.match(html, /base step_00000010/);
    assert.match(html, /<td>pass@4<\/td><td>[\d.]+<\/td><td>[\d.]+<\/td>/);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'; style-src 'nonce-/);
    assert.ok(!/<script/i.test(html));
  });

  it('a second diff of the same pair opens from the on-disk cache without a process', async () => {
    assert.ok(fs.existsSync(path.join(ck('step_00000020'), 'report.json')));
    const t0 = Date.now();
    const res = await vscode.commands.executeCommand<CompareResult>('rlLens.compareCheckpoints', { runDir, a: 'step_00000010', b: 'step_00000020', samples: 4, prompts: 6 });
    log(`second diff: ${Date.now() - t0} ms, computed ${res?.computed}`);
    assert.ok(res);
    assert.equal(res.computed, 0);
  });

  it('tree multi-select (clicked node, selected nodes) compares the two selected checkpoints, older on the left', async () => {
    const n = (name: string, step: number) => ({ kind: 'checkpoint', runDir, name, dir: ck(name), step });
    const res = await vscode.commands.executeCommand<CompareResult>('rlLens.compareCheckpoints', n('step_00000020', 20), [n('step_00000020', 20), n('step_00000010', 10)]);
    assert.ok(res);
    assert.equal(res.title, 'RL Lens: step 10 ↔ step 20 (tiny-sft)');
    assert.match((await vscode.workspace.openTextDocument(res.left)).getText(), /^# RL Lens checkpoint report: step_00000010 \(step 10\)$/m);
  });

  it('refuses identical checkpoints (step 20 and its step_00000020_final copy): a clear error, no process, nothing opened', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const diff = (ext.exports as { checkpointDiff: { diff(a: string, b: string): Promise<unknown>; processesStarted: number } }).checkpointDiff;
    const before = diff.processesStarted;
    await assert.rejects(diff.diff(ck('step_00000020'), ck('step_00000020_final')), /same step \(20\) of one run: the same weights, nothing to compare\. Pick two different checkpoints/);
    await assert.rejects(diff.diff(ck('step_00000010'), ck('step_00000010')), /the same checkpoint/);
    // the command shows the error and opens nothing
    const res = await vscode.commands.executeCommand<CompareResult>('rlLens.compareCheckpoints', { runDir, a: 'step_00000020', b: 'step_00000020_final', samples: 4, prompts: 6 });
    assert.equal(res, undefined);
    assert.equal(diff.processesStarted, before, 'no report process started');
  });

  it('Compare with Previous from a checkpoint tree node diffs it against the checkpoint before it', async () => {
    const node = { kind: 'checkpoint', runDir, name: 'step_00000020', dir: ck('step_00000020'), step: 20 };
    const res = await vscode.commands.executeCommand<CompareResult>('rlLens.compareWithPrevious', node);
    assert.ok(res);
    assert.equal(res.title, 'RL Lens: step 10 ↔ step 20 (tiny-sft)');
    const ref = await vscode.commands.executeCommand<CompareResult>('rlLens.compareWithReference', node);
    assert.ok(ref);
    assert.match(ref.title, /^RL Lens: step 10 ↔ step 20/, 'no init checkpoint: the run\'s first checkpoint is the reference');
  });
});
