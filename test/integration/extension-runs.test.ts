// Runs INSIDE a real VS Code extension host (code-server here; see docs/testing.md). Drives the extension shell
// through its real commands: Start Run (with the fake trainer at the process edge, and with the real trainer),
// the Runs tree, Stop, crash reporting, Workspace Trust, Open Run, Delete Run.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RlLensApi } from '../../src/extension';
import type { RunNode } from '../../src/host/ui/model/runsTreeModel';
import type { StartRunResult } from '../../src/host/commands';
import { EXTENSION_ID, log, api, ws, until } from './helpers';


function extPath(): string { return vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath; }
function fakeTrainer(): string { return path.join(extPath(), 'test', 'fixtures', 'fake-trainer.js'); }

async function children(a: RlLensApi, n?: RunNode): Promise<RunNode[]> { return a.tree.getChildren(n); }
function label(a: RlLensApi, n: RunNode): string { const v = a.tree.model.view(n); return `${v.label}${v.description ? ` [${v.description}]` : ''}`; }
async function runNode(a: RlLensApi, runDir: string): Promise<RunNode> {
  return until(`run ${path.basename(runDir)} in the tree`, async () => (await children(a)).find((n) => n.kind === 'run' && n.runDir === runDir));
}
function manifest(runDir: string): { status: string; error?: { message: string }; trusted?: string } {
  return JSON.parse(fs.readFileSync(path.join(runDir, 'manifest.json'), 'utf8'));
}

describe('RL Lens extension shell', function () {
  this.timeout(120_000);

  it('a run that fails because its model is missing offers the rlLens.modelFolders setting in its end notification', async () => {
    const a = await api();
    const why = 'hf:karpathy/tinyllamas/stories260K: could not download stories260K.bin …; or, where you have a copy, name its parent folder in the VS Code setting rlLens.modelFolders or the environment variable RL_LENS_MODELS';
    const res = await vscode.commands.executeCommand<StartRunResult>('rlLens.startRun', { preset: 'sft-tiny', name: 'it-nomodel', cliPath: fakeTrainer(), progress: false, overrides: { fake: { steps: 4, delayMs: 20, failAtStep: 1, failWith: why } } });
    const active = a.supervisor.get(res.runDir);
    const exit = await active!.proc.whenExited();
    assert.equal(exit.status, 'failed');
    const notice = await until('the end notification', () => a.supervisor.endNotices.find((n: { runDir: string }) => n.runDir === res.runDir));
    assert.match(notice.text, /run "it-nomodel · .*" failed: .*rlLens\.modelFolders/);
    assert.equal(notice.actions[0], 'Set Model Folders…');
  });

  it('Start Run with a preset (fake trainer at the process edge): completes; tree shows run, checkpoints, steps, groups, samples; status bar follows', async () => {
    const a = await api();
    const t0 = Date.now();
    const res = await vscode.commands.executeCommand<StartRunResult>('rlLens.startRun', { preset: 'sft-tiny', name: 'it-fake', cliPath: fakeTrainer(), progress: true, overrides: { fake: { steps: 4, delayMs: 100 } } });
    assert.ok(res, `startRun returned nothing; messages: ${a.commands.shown.join(' | ')}`);
    assert.ok(res.runDir.startsWith(path.join(ws(), 'runs')), `the run goes to the workspace runs folder: ${res.runDir}`);
    const active = a.supervisor.get(res.runDir);
    assert.ok(active, 'the supervisor follows the run');
    await until('a step event', () => active.step !== undefined);
    assert.match(a.statusBar.item.text, /RL Lens · \d+\/4/, `status bar: ${a.statusBar.item.text}`);
    const exit = await active.proc.whenExited();
    log(`fake run finished in ${Date.now() - t0} ms: ${exit.status}`);
    assert.equal(exit.status, 'completed');
    // issue 16: the run is labelled with its start time; its end is announced with the way to the results and the log
    assert.match(active.name, /^it-fake · (\w{3} \d+ )?\d\d:\d\d:\d\d/, `label ${active.name}`);
    const notice = await until('the end notification', () => a.supervisor.endNotices.find((n: { runDir: string }) => n.runDir === res.runDir));
    assert.match(notice.text, /run "it-fake · .*" completed/);
    assert.deepEqual(notice.actions, ['Open Dashboard', 'Show Log']);
    assert.equal(manifest(res.runDir).trusted, '1', 'RL_LENS_TRUSTED=1 reached the trainer in a trusted workspace');
    const run = await runNode(a, res.runDir);
    await until('completed status in the tree', () => a.tree.model.view(run).icon?.id === 'pass');
    const kids = await children(a, run);
    assert.deepEqual(kids.map((k) => k.kind), ['checkpoints', 'steps', 'diagnosis']);
    const ckpts = await children(a, kids[0]);
    assert.ok(ckpts.length >= 2, `checkpoints: ${ckpts.map((c) => label(a, c)).join(', ')}`);
    assert.match(label(a, ckpts[0]), /step 2 · pass@1 0\.27/);
    const steps = await children(a, kids[1]);
    assert.equal(steps.length, 4);
    const groups = await children(a, steps[0]);
    assert.deepEqual(groups.map((g) => a.tree.model.view(g).description), ['μ 0.5 ± 0.71 · 2 samples', 'μ 1 ± 0 · 2 samples · filtered (zero variance)']);
    const samples = await children(a, groups[0]);
    assert.equal(samples.length, 2);
    const item = a.tree.getTreeItem(samples[1]);
    assert.equal(item.command?.command, 'rlLens.showHeatmap');
    assert.deepEqual(item.command?.arguments, [{ runDir: res.runDir, step: 4, sample: 1 }]);
    assert.equal(fs.existsSync(path.join(res.runDir, 'rl-lens.config.json')), true, 'the effective config is kept with the run');
    // reveal works (TreeView.reveal needs getParent), also down to a sample (a webview's selection)
    await a.tree.reveal(res.runDir);
    await a.tree.revealTarget({ runDir: res.runDir, step: 4, sample: 1 });
    // (the selection reaches the extension host asynchronously)
    const sel = await until('the revealed sample to be selected', () => {
      const x = a.treeView.selection[0];
      return x && x.kind === 'sample' && x.step === 4 && x.sample === 1 ? x : undefined;
    }, 30_000).catch((e: Error) => { throw new Error(`${e.message}; selection: ${JSON.stringify(a.treeView.selection)}`); });
    assert.ok(sel);
    // the status bar opens the dashboard of this run
    assert.equal(a.statusBar.item.command && typeof a.statusBar.item.command === 'object' ? a.statusBar.item.command.command : '', 'rlLens.showDashboard');
  });

  it('Stop Run stops a running trainer gracefully (stop checkpoint, status stopped)', async () => {
    const a = await api();
    const res = await vscode.commands.executeCommand<StartRunResult>('rlLens.startRun', { preset: 'sft-tiny', name: 'it-stop', cliPath: fakeTrainer(), progress: false, overrides: { fake: { steps: 10000, delayMs: 50 } } });
    assert.ok(res);
    const r = a.supervisor.get(res.runDir)!;
    await until('step 3', () => (r.step ?? 0) >= 3);
    const t0 = Date.now();
    assert.equal(await vscode.commands.executeCommand('rlLens.stopRun', { runDir: res.runDir }), true);
    const exit = await r.proc.whenExited();
    log(`stop took ${Date.now() - t0} ms`);
    assert.equal(exit.status, 'stopped');
    assert.equal(manifest(res.runDir).status, 'stopped');
    assert.ok(fs.readdirSync(path.join(res.runDir, 'checkpoints')).some((n) => n.endsWith('_stop')), 'a stop checkpoint was written');
    const run = await runNode(a, res.runDir);
    await until('stopped icon', () => a.tree.model.view(run).icon?.id === 'debug-stop');
    const notice = await until('the end notification', () => a.supervisor.endNotices.find((n: { runDir: string }) => n.runDir === res.runDir));
    assert.match(notice.text, /stopped/);
  });

  it('Stop during the RL warm start (real trainer): progress is shown, then a stop checkpoint and status stopped, well before the kill timeout', async function () {
    this.timeout(120_000);
    const a = await api();
    const res = await vscode.commands.executeCommand<StartRunResult>('rlLens.startRun', { preset: 'grpo-arithmetic-tiny', name: 'it-warm-stop', progress: true, overrides: { rl: { warmStart: { steps: 1000000 } } } });
    assert.ok(res, `startRun returned nothing; messages: ${a.commands.shown.join(' | ')}`);
    const r = a.supervisor.get(res.runDir)!;
    await until('warm-start progress', () => (r.phase?.done ?? 0) >= 5, 90_000);
    assert.equal(r.phase!.name, 'warm start');
    assert.match(a.statusBar.item.text, /warm start \d+\/1000000/, `status bar: ${a.statusBar.item.text}`);
    const run = await runNode(a, res.runDir);
    assert.match(a.tree.model.view(run).description ?? '', /warm start \d+\/1000000/);
    const t0 = Date.now();
    assert.equal(await vscode.commands.executeCommand('rlLens.stopRun', { runDir: res.runDir }), true);
    const exit = await r.proc.whenExited();
    const took = Date.now() - t0;
    log(`stop during the warm start took ${took} ms`);
    assert.equal(exit.status, 'stopped');
    assert.equal(exit.markedByHost, false, 'the trainer wrote its own end (not "exited without an end event")');
    assert.ok(took < 10_000, `stopped in ${took} ms (the kill timeout is 15 s)`);
    assert.equal(manifest(res.runDir).status, 'stopped');
    assert.ok(fs.readdirSync(path.join(res.runDir, 'checkpoints')).some((n) => n.endsWith('_stop')), 'a stop checkpoint was written');
  });

  it('a crashing trainer is reported (Show Log / Open Run) and its run is marked failed', async () => {
    const a = await api();
    const res = await vscode.commands.executeCommand<StartRunResult>('rlLens.startRun', { preset: 'sft-tiny', name: 'it-crash', cliPath: fakeTrainer(), progress: false, overrides: { fake: { steps: 50, delayMs: 20, crashAtStep: 3, exitCode: 9 } } });
    assert.ok(res);
    const exit = await a.supervisor.get(res.runDir)!.proc.whenExited();
    assert.equal(exit.status, 'failed');
    assert.equal(exit.code, 9);
    const m = manifest(res.runDir);
    assert.equal(m.status, 'failed');
    assert.match(m.error?.message ?? '', /simulated trainer crash/);
    assert.ok(a.supervisor.crashReports.some((c) => c.runDir === res.runDir && /exited with code 9/.test(c.message)), 'an error message was shown');
    const run = await runNode(a, res.runDir);
    await until('failed icon', () => a.tree.model.view(run).icon?.id === 'error');
    const kids = await children(a, run);
    assert.match(label(a, kids[0]), /^failed: .*simulated trainer crash/);
    // the log channel holds the trainer's stderr
    assert.ok(a.supervisor.logChannel(res.runDir), 'a log channel exists for Show Trainer Log');
    await vscode.commands.executeCommand('rlLens.showTrainerLog', { runDir: res.runDir });
  });

  it('untrusted workspace: a config naming a custom reward module is refused with an explanation; presets still run', async () => {
    const a = await api();
    const cfg = path.join(ws(), 'custom.rllens.json');
    fs.writeFileSync(path.join(ws(), 'reward.js'), 'module.exports.reward = () => 1;\n');
    fs.writeFileSync(cfg, JSON.stringify({ algorithm: 'sft', task: { name: 'arithmetic', rewardModule: './reward.js' }, fake: { steps: 2, delayMs: 10 } }, null, 2));
    const really = !vscode.workspace.isTrusted;
    log(really ? 'workspace is really untrusted' : 'workspace is trusted in this VS Code: simulating an untrusted one (trustOverride = false)');
    if (!really) a.commands.trustOverride = false;
    try {
      const before = fs.existsSync(path.join(ws(), 'runs')) ? fs.readdirSync(path.join(ws(), 'runs')).length : 0;
      const res = await vscode.commands.executeCommand<StartRunResult | undefined>('rlLens.startRun', { configPath: cfg, cliPath: fakeTrainer(), progress: false });
      assert.equal(res, undefined, 'the run must not start');
      const msg = a.commands.shown.at(-1) ?? '';
      assert.match(msg, /untrusted workspace/);
      assert.match(msg, /task\.rewardModule = \.\/reward\.js/);
      assert.match(msg, /Manage Workspace Trust/);
      const after = fs.existsSync(path.join(ws(), 'runs')) ? fs.readdirSync(path.join(ws(), 'runs')).length : 0;
      assert.equal(after, before, 'no run folder was created');
      // a built-in preset (no code) still runs, and the trainer is told the workspace is untrusted
      const ok = await vscode.commands.executeCommand<StartRunResult>('rlLens.startRun', { preset: 'sft-tiny', cliPath: fakeTrainer(), progress: false, overrides: { fake: { steps: 1, delayMs: 10 } } });
      assert.ok(ok);
      await a.supervisor.get(ok.runDir)!.proc.whenExited();
      assert.equal(manifest(ok.runDir).trusted, '0', 'RL_LENS_TRUSTED=0 passed to the trainer');
    } finally {
      a.commands.trustOverride = undefined;
    }
  });

  it('Open Run opens a run folder outside the workspace; Delete Run removes it', async () => {
    const a = await api();
    const src = (await vscode.commands.executeCommand<StartRunResult>('rlLens.startRun', { preset: 'sft-tiny', cliPath: fakeTrainer(), progress: false, overrides: { fake: { steps: 2, delayMs: 10 } } }))!;
    await a.supervisor.get(src.runDir)!.proc.whenExited();
    const outside = path.join(path.dirname(ws()), `elsewhere-${Date.now()}`);
    fs.cpSync(src.runDir, outside, { recursive: true });
    const opened = await vscode.commands.executeCommand<string>('rlLens.openRun', { runDir: outside });
    assert.equal(opened, outside);
    await runNode(a, outside);
    const notRun = path.join(path.dirname(ws()), `empty-${Date.now()}`);
    fs.mkdirSync(notRun);
    assert.equal(await vscode.commands.executeCommand('rlLens.openRun', { runDir: notRun }), undefined, 'a folder that is no run is refused with a message');
    const n = await vscode.commands.executeCommand<number>('rlLens.deleteRun', { runDir: outside, skipConfirm: true });
    assert.equal(n, 1);
    assert.equal(fs.existsSync(outside), false);
    assert.equal((await children(a)).some((x) => x.kind === 'run' && x.runDir === outside), false);
  });

  it('Open Run on OpenRLHF / RLLoggingBoard logs detects the format and shows the converted run with its rollout groups', async () => {
    const a = await api();
    const dir = path.join(path.dirname(ws()), `rllb-${Date.now()}`);
    fs.mkdirSync(dir);
    const line = (step: number, prompt: string, response: string, reward: number) => JSON.stringify({
      prompt, response, response_tokens: response.split(''), logprobs: response.split('').map(() => -0.5), ref_logprobs: response.split('').map(() => -0.6),
      values: response.split('').map(() => 0.1), token_rewards: response.split('').map((_, i, arr) => (i === arr.length - 1 ? reward : 0)), reward, step,
    });
    fs.writeFileSync(path.join(dir, 'rank0.jsonl'), [line(1, '2+3=', '5', 1), line(1, '2+3=', '6', 0), line(2, '1+1=', '2', 1)].join('\n') + '\n');
    const out = await vscode.commands.executeCommand<string>('rlLens.openRun', { runDir: dir });
    assert.ok(out, 'the logs were opened');
    const run = await runNode(a, out);
    assert.match(a.tree.model.view(run).description ?? '', /from rllb/);
    const kids = await children(a, run);
    const steps = await children(a, kids.find((k) => k.kind === 'steps')!);
    assert.deepEqual(steps.map((s) => a.tree.model.view(s).label), ['step 2', 'step 1']);
    const groups = await children(a, steps[1]);
    assert.equal(groups.length, 1, 'the two responses to one prompt form one group');
    assert.equal((await children(a, groups[0])).length, 2);
  });

  it('config files get the trainer schema: *.rllens.json opens as JSON with comments and shows schema errors', async () => {
    const file = path.join(ws(), 'bad.rllens.json');
    fs.writeFileSync(file, '// my config\n{\n  "algorithm": "not-an-algorithm",\n  "model": { "dModel": 64, "bogus": 1 }\n}\n');
    const doc = await vscode.workspace.openTextDocument(file);
    await vscode.window.showTextDocument(doc);
    assert.equal(doc.languageId, 'jsonc');
    const diags = await until('schema diagnostics', () => {
      const d = vscode.languages.getDiagnostics(doc.uri);
      return d.length >= 2 ? d : undefined;
    }, 30_000);
    const text = diags.map((d) => d.message).join(' | ');
    log(`schema diagnostics: ${text}`);
    assert.match(text, /not-an-algorithm|Value is not accepted|allowed values/i);
    assert.match(text, /bogus|not allowed/i);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  it('Start Run with the real trainer (tiny GRPO preset) runs to completion and the tree shows its checkpoints and rollout groups', async function () {
    const a = await api();
    const t0 = Date.now();
    const res = await vscode.commands.executeCommand<StartRunResult>('rlLens.startRun', { preset: 'grpo-arithmetic-tiny', name: 'it-real', progress: true, overrides: { train: { steps: 10 }, eval: { every: 5 }, checkpoint: { every: 5 } } });
    assert.ok(res, `startRun failed: ${a.commands.shown.join(' | ')}`);
    const exit = await a.supervisor.get(res.runDir)!.proc.whenExited();
    log(`real trainer run: ${exit.status} in ${Date.now() - t0} ms (${exit.message ?? ''})`);
    if (exit.status === 'failed' && /not available in this build/.test(exit.message ?? '')) this.skip();
    assert.equal(exit.status, 'completed', exit.message);
    const run = await runNode(a, res.runDir);
    await until('completed icon', () => a.tree.model.view(run).icon?.id === 'pass');
    const kids = await children(a, run);
    const ck = await children(a, kids.find((k) => k.kind === 'checkpoints')!);
    assert.ok(ck.some((c) => c.kind === 'checkpoint'), `checkpoints: ${ck.map((c) => label(a, c)).join(', ')}`);
    const steps = await children(a, kids.find((k) => k.kind === 'steps')!);
    assert.ok(steps.some((s) => s.kind === 'step'), `steps: ${steps.map((c) => label(a, c)).join(', ')}`);
    const inner = await children(a, steps.find((s) => s.kind === 'step')!);
    assert.ok(inner.length === 8 && inner.every((g) => g.kind === 'group'), `8 rollout groups (promptsPerStep): ${inner.map((c) => label(a, c)).join(', ')}`);
    for (const g of inner) assert.match(a.tree.model.view(g).description ?? '', /^μ -?[\d.e-]+ ± [\d.e-]+ · 8 samples/, label(a, g));
    const samples = await children(a, inner[0]);
    assert.equal(samples.length, 8, 'groupSize completions per group');
    assert.match(a.tree.model.view(samples[0]).description ?? '', /^r -?[\d.]+ · A [+−±][\d.]+/);
    assert.match(label(a, run), /grpo · arithmetic · 10\/10 · r /);
  });
});

describe('RL Lens extension shell with the real trainer: Stop', function () {
  this.timeout(120_000);
  it('Stop Run ends a real training run (graceful stop, or the process group is killed after rlLens.stopTimeoutSeconds)', async () => {
    const a = await api();
    const cfg = vscode.workspace.getConfiguration('rlLens');
    await cfg.update('stopTimeoutSeconds', 5, vscode.ConfigurationTarget.Global);
    try {
      const res = await vscode.commands.executeCommand<StartRunResult>('rlLens.startRun', { preset: 'sft-arithmetic', name: 'it-real-stop', progress: false });
      assert.ok(res, `startRun failed: ${a.commands.shown.join(' | ')}`);
      const r = a.supervisor.get(res.runDir)!;
      await until('the real trainer to reach step 3', () => (r.step ?? 0) >= 3 || !r.proc.running, 60_000);
      assert.ok(r.proc.running, `the trainer ended before Stop: ${r.exit?.message}`);
      const t0 = Date.now();
      await vscode.commands.executeCommand('rlLens.stopRun', { runDir: res.runDir });
      const exit = await r.proc.whenExited();
      const ms = Date.now() - t0;
      const graceful = fs.readdirSync(path.join(res.runDir, 'checkpoints')).some((n) => n.endsWith('_stop'));
      log(`real trainer stop: ${exit.status} after ${ms} ms, ${graceful ? 'graceful (stop checkpoint written)' : `NOT graceful (killed: signal ${exit.signal}; the trainer did not react to the stop message / SIGTERM)`}`);
      assert.equal(exit.status, 'stopped');
      assert.equal(manifest(res.runDir).status, 'stopped');
      assert.ok(ms < 5000 + 5000, `stopped within the timeout + 5 s (${ms} ms)`);
      assert.equal(a.supervisor.active().some((x) => x.runDir === res.runDir), false);
    } finally {
      await cfg.update('stopTimeoutSeconds', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});
