/**
 * RL Lens extension host entry. Wires the trainer supervisor, the Runs tree, the status bar, the shell
 * commands, the run doctor and the webview panels. Everything is a Disposable in context.subscriptions.
 * `activate` returns an API object (used by the integration tests and by other extensions).
 */
import * as fs from 'fs';
import * as vscode from 'vscode';
import { Supervisor } from './host/supervisor';
import { ShellCommands, runDirOf } from './host/commands';
import { Diagnosis } from './host/diagnosis';
import { RunsTreeProvider } from './host/ui/runsTree';
import { RunStatusBar } from './host/ui/statusBar';
import type { RunNode } from './host/ui/model/runsTreeModel';
import { registerPanels, type PanelManager } from './host/ui/panels';
import { registerCheckpointDiff, type CheckpointDiff } from './host/checkpointDiff';
import { registerTokenDiff, type TokenDiffCommands } from './host/tokenDiff';
import { setTokenizerPathProvider } from './host/tokenize';
import { readSettings } from './host/settings';

export interface RlLensApi {
  /** the token comparison commands (issue 21): cancelAll(), runningPids(), processesStarted */
  tokenDiff: TokenDiffCommands;
  /** the checkpoint diff (reports and the Compare commands): diff(a, b), processesStarted */
  checkpointDiff: CheckpointDiff;
  supervisor: Supervisor;
  tree: RunsTreeProvider;
  commands: ShellCommands;
  statusBar: RunStatusBar;
  diagnosis: Diagnosis;
  treeView: vscode.TreeView<RunNode>;
  panels: PanelManager;
  log: vscode.LogOutputChannel;
}

export async function activate(context: vscode.ExtensionContext): Promise<RlLensApi> {
  memoryLog(context);
  const supervisor = new Supervisor(context.extensionPath);
  const tree = new RunsTreeProvider(context, supervisor);
  const treeView = vscode.window.createTreeView('rlLens.runs', { treeDataProvider: tree, canSelectMany: true, showCollapseAll: true });
  tree.view = treeView;
  const statusBar = new RunStatusBar(supervisor);
  const diagnosis = new Diagnosis(supervisor);
  tree.setDiagnosisProvider((dir) => diagnosis.findingsAsync(dir)); // read in slices: the host never waits for a big run's doctor
  const commands = new ShellCommands(context, supervisor, tree);
  tree.setFollowedProvider((d) => commands.isFollowing(d));
  setTokenizerPathProvider(() => readSettings().tokenizerPath);
  const log = vscode.window.createOutputChannel('RL Lens', { log: true });
  context.subscriptions.push(log, supervisor, tree, treeView, statusBar, diagnosis, commands, ...commands.register());

  // webview panels (heatmap, group view, dashboard): rlLens.showHeatmap / showGroup / showDashboard
  const panels = registerPanels(context, {
    listRuns: () => tree.knownRuns(),
    onDidChangeRun: tree.onDidChangeRun,
    revealInTree: (t) => { void tree.revealTarget(t).catch((e: Error) => log.debug(`reveal in tree: ${e.message}`)); },
    log: (m) => log.info(m),
    annotations: (dir) => diagnosis.annotationsAsync(dir), // the doctor's findings as bands on the dashboard curves, after the first paint
    onDidChangeAnnotations: diagnosis.onDidChange,
  });
  context.subscriptions.push(panels);
  const checkpointDiff = registerCheckpointDiff(context, { listRuns: () => tree.knownRuns(), log: (m) => log.info(m) }); // rlLens.compare* + rl-lens: report documents
  context.subscriptions.push(checkpointDiff);
  // rlLens.compareTokens / compareTokensWithBase: what RL changed, token by token (issue 21)
  const tokenDiff = registerTokenDiff(context, { listRuns: () => tree.knownRuns(), referenceOf: (d) => checkpointDiff.diff.referenceOf(d), log: (m) => log.info(m) });
  context.subscriptions.push(tokenDiff);

  context.subscriptions.push(
    vscode.commands.registerCommand('rlLens.diagnoseRun', (a?: { runDir?: string } | RunNode) => diagnosis.command(runDirOf(a) ?? supervisor.current()?.runDir ?? selectedRun(treeView))),
    diagnosis.onDidChange((dir) => tree.refreshDiagnosis(dir)),
    treeView.onDidChangeSelection((e) => {
      const n = e.selection[0];
      statusBar.select(n?.runDir ? tree.store.get(n.runDir) : undefined);
    }),
    supervisor.onDidChange(() => void vscode.commands.executeCommand('setContext', 'rlLens.hasRunning', supervisor.active().length > 0)),
  );
  void vscode.commands.executeCommand('setContext', 'rlLens.hasRunning', false);

  return { supervisor, tree, commands, statusBar, diagnosis, treeView, panels: panels.manager, log, tokenDiff: tokenDiff.tokens, checkpointDiff: checkpointDiff.diff };
}

function selectedRun(v: vscode.TreeView<RunNode>): string | undefined {
  return v.selection[0]?.runDir;
}

export function deactivate(): void { /* disposables are in context.subscriptions; the supervisor stops running trainers */ }

/** RL_LENS_MEMORY_LOG=FILE (benchmarks): the extension host's memory (process.memoryUsage(): rss of the whole process,
 *  the main thread's JS heap, external and ArrayBuffer memory) appended to FILE as a JSON line twice a second. */
function memoryLog(context: vscode.ExtensionContext): void {
  const file = process.env.RL_LENS_MEMORY_LOG;
  if (!file) return;
  const t = setInterval(() => { try { fs.appendFileSync(file, JSON.stringify({ t: Date.now(), ...process.memoryUsage() }) + '\n'); } catch { /* not writable */ } }, 500);
  t.unref?.();
  context.subscriptions.push({ dispose: () => clearInterval(t) });
}
