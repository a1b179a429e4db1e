/**
 * RL Lens commands owned by the extension shell: Start Run…, Stop Run, Open Run…, Show Trainer Log,
 * Reveal Run Folder, Delete Run…, Refresh, Install GPU Backend. Each accepts, besides the tree node it is
 * invoked on, a plain argument object (documented per command) so other components and tests can call them.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { isRunDir } from '../runio/reader';
import { detectFormat, followForeignRun, type ForeignFollower } from '../importers';
import type { Supervisor } from './supervisor';
import { defaultRunsFolder, readSettings } from './settings';
import { loadTemplates, newRunDirName, templatesDir } from './presets';
import { FAMILY_LABEL, MEASURED_ON, formatDuration, presetEntry, startRunPresets } from '../shared/presets';
import { absolutizePaths, applyTraceRetention, deepMerge, isStrictJson, parseConfigText } from './configPrep';
import { findCodeReferences, untrustedRefusal } from './trust';
import { installGpuBackend } from './gpuBackend';

/** Workspace config files offered by Start Run: `*.rllens.json` / `*.rllens.jsonc` (the schema is applied to them by jsonValidation). */
export const WORKSPACE_CONFIG_GLOB = '**/*.rllens.{json,jsonc}';
export const RUN_CONFIG_FILE = 'rl-lens.config.json';

export interface StartRunArgs {
  /** a built-in preset id (media/templates/<id>.jsonc) */
  preset?: string;
  /** a config file (workspace or elsewhere) */
  configPath?: string;
  /** where the run goes (default: a new folder in the first runs folder) */
  runDir?: string;
  name?: string;
  backend?: string;
  /** show the progress notification (default: setting) */
  progress?: boolean;
  /** tests only: a different trainer CLI (fake trainer) */
  cliPath?: string;
  /** merged over the config (tests: make a preset tinier) */
  overrides?: Record<string, unknown>;
}
export interface StartRunResult { runDir: string; configPath: string }

/**
 * What the commands need of the Runs tree (src/host/ui/runsTree.ts implements it). Declared here so that host
 * code does not import src/host/ui: the UI depends on the host, one way.
 */
export interface RunsView {
  rescan(): void;
  runsFolders(): string[];
  knownRuns(): string[];
  addOpened(dir: string): Promise<void>;
  removeOpened(dir: string): Promise<void>;
  refreshRun(dir: string): void;
  reveal(dir: string): Promise<void>;
}
/** A Runs tree node as the commands see it (structural subset of RunNode in src/host/ui/model/runsTreeModel.ts). */
type TreeNode = { kind: string; runDir?: string; dir?: string };

type Target = { runDir?: string } | TreeNode | vscode.Uri | string | undefined;

/** The run folder a command was invoked on: a tree node, { runDir }, a Uri, a path. */
export function runDirOf(arg: Target): string | undefined {
  if (!arg) return undefined;
  if (typeof arg === 'string') return arg;
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (typeof (arg as { runDir?: unknown }).runDir === 'string') return (arg as { runDir: string }).runDir;
  return undefined;
}

export class ShellCommands implements vscode.Disposable {
  private readonly followers = new Map<string, ForeignFollower>();
  private gpuOut: vscode.OutputChannel | undefined;
  /** tests only: pretend the workspace is (un)trusted when the test VS Code cannot open an untrusted one */
  trustOverride: boolean | undefined;
  /** the last messages Start Run / Open Run showed (errors, refusals, the format Open Run detected), newest last: for tests and the log */
  readonly shown: string[] = [];

  constructor(private readonly context: vscode.ExtensionContext, private readonly supervisor: Supervisor, private readonly tree: RunsView) {}

  /** is this imported run followed live by this window? */
  isFollowing(runDir: string): boolean { return this.followers.has(path.resolve(runDir)); }

  register(): vscode.Disposable[] {
    const r = (id: string, f: (...a: never[]) => unknown) => vscode.commands.registerCommand(id, f as (...a: unknown[]) => unknown);
    return [
      r('rlLens.startRun', (a?: StartRunArgs) => this.startRun(a)),
      r('rlLens.stopRun', (a?: Target) => this.stopRun(a)),
      r('rlLens.openRun', (a?: Target) => this.openRun(a)),
      r('rlLens.showTrainerLog', (a?: Target) => this.showTrainerLog(a)),
      r('rlLens.revealRunFolder', (a?: Target) => this.revealRunFolder(a)),
      r('rlLens.deleteRun', (a?: Target & { skipConfirm?: boolean }, sel?: TreeNode[]) => this.deleteRun(a, sel)),
      r('rlLens.refresh', () => this.tree.rescan()),
      r('rlLens.installGpuBackend', () => installGpuBackend(this.context.extensionPath, this.gpuOut ??= vscode.window.createOutputChannel('RL Lens: GPU backend'))),
      r('rlLens.newConfigFromTemplate', (a?: { template?: string; file?: string }) => this.newConfigFromTemplate(a)),
    ];
  }

  // ---- Start Run ------------------------------------------------------------------------------------------
  async startRun(a: StartRunArgs = {}): Promise<StartRunResult | undefined> {
    try {
      if (!a.preset && !a.configPath) {
        const picked = await this.pickConfig();
        if (!picked) return undefined;
        if ('template' in picked) { await this.newConfigFromTemplate({}); return undefined; }
        a = { ...a, ...picked };
      }
      return await this.startFrom(a);
    } catch (e) {
      const msg = (e as Error).message;
      this.shown.push(msg);
      if (e instanceof UntrustedError) return undefined; // already explained, with a "Manage Workspace Trust" button
      const pick = await vscode.window.showErrorMessage(`RL Lens: cannot start the run: ${msg}`, ...(a.configPath ? ['Open Config'] : []));
      if (pick === 'Open Config' && a.configPath) await vscode.window.showTextDocument(vscode.Uri.file(a.configPath));
      return undefined;
    }
  }

  private async pickConfig(): Promise<{ preset: string } | { configPath: string } | { template: true } | undefined> {
    type Item = vscode.QuickPickItem & { value?: { preset: string } | { configPath: string } | { template: true } };
    const items: Item[] = [];
    // the trainer's preset table (src/shared/presets.ts: `--preset ID` is the same run): recommended first, then by family
    let family = '';
    for (const p of startRunPresets()) {
      const sep = p.recommended ? 'Recommended' : FAMILY_LABEL[p.family];
      if (sep !== family) { items.push({ label: sep, kind: vscode.QuickPickItemKind.Separator }); family = sep; }
      const took = formatDuration(p.seconds);
      items.push({
        label: `$(${p.recommended ? 'star-full' : 'beaker'}) ${p.label}${took ? ` (${took})` : ''}`, description: p.id,
        detail: `${p.detail}${took ? ` Measured: ${took} on ${MEASURED_ON}.` : ''}`, value: { preset: p.id },
      });
    }
    const files = await vscode.workspace.findFiles(WORKSPACE_CONFIG_GLOB, '{**/node_modules/**,**/.git/**}', 200);
    if (files.length) {
      items.push({ label: 'Workspace configs (*.rllens.json)', kind: vscode.QuickPickItemKind.Separator });
      for (const f of files.sort((x, y) => x.fsPath.localeCompare(y.fsPath))) items.push({ label: `$(file-code) ${path.basename(f.fsPath)}`, description: vscode.workspace.asRelativePath(f), value: { configPath: f.fsPath } });
    }
    items.push({ label: '', kind: vscode.QuickPickItemKind.Separator });
    items.push({ label: '$(new-file) New config from template…', detail: 'Writes a commented *.rllens.jsonc config (with completion and hover docs) and opens it', value: { template: true } });
    const pick = await vscode.window.showQuickPick(items, { title: 'RL Lens: Start Run', placeHolder: 'Choose a preset or a config file', matchOnDescription: true, matchOnDetail: true, ignoreFocusOut: true });
    return pick?.value;
  }

  /** Resolve the config, check trust, write the run's config copy, start the trainer. */
  async startFrom(a: StartRunArgs): Promise<StartRunResult> {
    let config: Record<string, unknown>;
    let source: string;
    let fromWorkspace = false;
    const entry = a.preset ? presetEntry(a.preset) : undefined;
    if (entry) {
      config = entry.make();
      source = `the preset "${entry.label}"`;
    } else if (a.preset) {
      const t = loadTemplates(templatesDir(this.context.extensionPath)).find((x) => x.id === a.preset);
      if (!t) throw new Error(`no built-in preset "${a.preset}" (have: ${startRunPresets().map((x) => x.id).join(', ')})`);
      config = parseConfigText(t.text, t.file);
      source = `the template "${t.label}"`;
    } else {
      const file = path.resolve(a.configPath!);
      config = parseConfigText(fs.readFileSync(file, 'utf8'), file);
      source = `the config ${vscode.workspace.asRelativePath(file)}`;
      fromWorkspace = true;
    }
    if (a.overrides) config = deepMerge(config, a.overrides);
    const trusted = this.trustOverride ?? vscode.workspace.isTrusted;
    const refs = findCodeReferences(config);
    if (!trusted && refs.length) {
      const msg = untrustedRefusal(source, refs);
      void vscode.window.showWarningMessage(msg, 'Manage Workspace Trust').then((p) => { if (p) void vscode.commands.executeCommand('workbench.trust.manage'); });
      throw new UntrustedError(msg);
    }
    const parent = defaultRunsFolder(this.context.globalStorageUri.fsPath);
    const runDir = path.resolve(a.runDir ?? path.join(parent, newRunDirName(parent, config)));
    if (fs.existsSync(path.join(runDir, 'manifest.json'))) throw new Error(`${runDir} already holds a run: choose another folder or delete that run`);
    fs.mkdirSync(runDir, { recursive: true });
    // A plain-JSON workspace config is passed as it is (the trainer's errors then cite its lines, and it resolves
    // relative paths against it). Presets, JSONC files (the trainer reads strict JSON) and overridden configs are
    // written next to the run as plain JSON, relative paths made absolute, so the run can be repeated.
    let configPath: string;
    const original = fromWorkspace ? path.resolve(a.configPath!) : undefined;
    const traced = applyTraceRetention(config, readSettings().traceRetention);
    if (original && !a.overrides && !traced && isStrictJson(fs.readFileSync(original, 'utf8'))) configPath = original;
    else {
      configPath = path.join(runDir, RUN_CONFIG_FILE);
      const effective = original ? absolutizePaths(traced ?? config, path.dirname(original)) : { ...(traced ?? config) };
      delete (effective as { $schema?: unknown }).$schema;
      fs.writeFileSync(configPath, JSON.stringify(effective, null, 2) + '\n');
    }
    this.supervisor.start({ configPath, runDir, name: a.name ?? (typeof config.name === 'string' ? config.name : undefined), backend: a.backend ?? readSettings().backend, trusted, progress: a.progress, cliPath: a.cliPath });
    if (!this.tree.runsFolders().some((f) => path.dirname(runDir) === path.resolve(f))) await this.tree.addOpened(runDir);
    else this.tree.rescan();
    void this.tree.reveal(runDir).catch(() => undefined);
    return { runDir, configPath };
  }

  async newConfigFromTemplate(a: { template?: string; file?: string } = {}): Promise<string | undefined> {
    const templates = loadTemplates(templatesDir(this.context.extensionPath));
    let t = a.template ? templates.find((x) => x.id === a.template) : undefined;
    if (!t) {
      const pick = templates.length === 1 ? { t: templates[0] } : await vscode.window.showQuickPick(templates.map((x) => ({ label: x.label, detail: x.detail, t: x })), { title: 'RL Lens: new config from template' });
      if (!pick) return undefined;
      t = pick.t;
    }
    let file = a.file;
    if (!file) {
      const ws = vscode.workspace.workspaceFolders?.[0];
      if (ws) {
        let name = `${t.id}.rllens.jsonc`;
        for (let i = 2; fs.existsSync(path.join(ws.uri.fsPath, name)); i++) name = `${t.id}-${i}.rllens.jsonc`;
        file = path.join(ws.uri.fsPath, name);
      } else {
        const uri = await vscode.window.showSaveDialog({ title: 'Save the RL Lens config', filters: { 'RL Lens config': ['rllens.jsonc', 'jsonc', 'json'] }, defaultUri: vscode.Uri.file(path.join(process.env.HOME ?? '/', `${t.id}.rllens.jsonc`)) });
        if (!uri) return undefined;
        file = uri.fsPath;
      }
    }
    fs.writeFileSync(file, t.text.replace(/^\s*\/\/\s*(label|detail):.*\n/gm, ''));
    await vscode.window.showTextDocument(vscode.Uri.file(file));
    void vscode.window.showInformationMessage(`RL Lens: wrote ${path.basename(file)}. Edit it (completion and hover docs come from the config schema), then run "RL Lens: Start Run…" and pick it.`);
    return file;
  }

  // ---- Stop / Open / Log / Reveal / Delete ----------------------------------------------------------------
  async stopRun(a?: Target): Promise<boolean> {
    let dir = runDirOf(a);
    if (!dir) {
      const active = this.supervisor.active();
      if (!active.length) { void vscode.window.showInformationMessage('RL Lens: no run is running.'); return false; }
      if (active.length === 1) dir = active[0].runDir;
      else dir = (await vscode.window.showQuickPick(active.map((r) => ({ label: r.name, description: r.step !== undefined ? `step ${r.step}` : '', dir: r.runDir })), { title: 'RL Lens: Stop Run' }))?.dir;
      if (!dir) return false;
    }
    if (this.supervisor.stop(dir)) return true;
    // not started by this window: the trainer may still be alive (another window): tell the user how
    void vscode.window.showWarningMessage(`RL Lens: ${path.basename(dir)} is not running in this window (only runs started here can be stopped from here).`);
    return false;
  }

  async openRun(a?: Target): Promise<string | undefined> {
    let src = runDirOf(a);
    if (!src) {
      const uris = await vscode.window.showOpenDialog({ title: 'RL Lens: Open Run (an RL Lens run folder, or TRL / verl / OpenRLHF-RLLoggingBoard logs)', canSelectFolders: true, canSelectFiles: true, canSelectMany: false, openLabel: 'Open Run' });
      if (!uris?.length) return undefined;
      src = uris[0].fsPath;
    }
    src = path.resolve(src);
    if (isRunDir(src)) {
      if (!this.tree.knownRuns().includes(src)) await this.tree.addOpened(src);
      await this.tree.reveal(src).catch(() => undefined);
      return src;
    }
    const det = detectFormat(src);
    if (!det.format || det.format === 'rl-lens') {
      const msg = `RL Lens: ${src} is not a run RL Lens can open: ${det.reason}. Open an RL Lens run folder (with manifest.json), or TRL (completions/*.parquet, trainer_state.json), verl (rollout dumps, file-logger JSONL) or OpenRLHF RLLoggingBoard JSONL logs.`;
      this.shown.push(msg);
      void vscode.window.showErrorMessage(msg);
      return undefined;
    }
    const out = path.join(this.context.globalStorageUri.fsPath, 'imported', newRunDirName(path.join(this.context.globalStorageUri.fsPath, 'imported'), { algorithm: det.format, task: path.basename(src) }));
    fs.mkdirSync(path.dirname(out), { recursive: true });
    const follower = followForeignRun(src, out, () => this.tree.refreshRun(out), { from: det.format, name: path.basename(src) });
    const res = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `RL Lens: reading ${det.format} logs from ${path.basename(src)}` }, () => follower.ready);
    this.followers.set(out, follower);
    await this.tree.addOpened(out);
    await this.tree.reveal(out).catch(() => undefined);
    const problems = res.problemCount ? ` ${res.problemCount} problem(s) (lines skipped; see the run's manifest "source.problems").` : '';
    const msg = `RL Lens: opened ${path.basename(src)} as ${det.format}: ${det.reason}.${problems} It is followed live while this window is open.`;
    this.shown.push(msg);
    void vscode.window.showInformationMessage(msg);
    return out;
  }

  async showTrainerLog(a?: Target): Promise<void> {
    let dir = runDirOf(a) ?? this.supervisor.current()?.runDir;
    if (!dir) {
      const runs = this.tree.knownRuns();
      dir = (await vscode.window.showQuickPick(runs.map((d) => ({ label: path.basename(d), description: d, d })), { title: 'RL Lens: Show Trainer Log' }))?.d;
      if (!dir) return;
    }
    const ch = this.supervisor.logChannel(dir);
    if (ch) { ch.show(true); return; }
    // run not started in this window: the event log on disk is the trainer's record
    const events = path.join(dir, 'events.jsonl');
    if (fs.existsSync(events)) await vscode.window.showTextDocument(vscode.Uri.file(events), { preview: true });
    else void vscode.window.showInformationMessage(`RL Lens: no trainer log for ${path.basename(dir)} (it was not started in this window and has no events.jsonl).`);
  }

  async revealRunFolder(a?: Target): Promise<void> {
    const dir = runDirOf(a) ?? this.supervisor.current()?.runDir;
    if (!dir) return;
    const target = a && typeof a === 'object' && 'kind' in a && a.kind === 'checkpoint' && a.dir ? a.dir : dir;
    const uri = vscode.Uri.file(target);
    if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand('revealInExplorer', uri);
    else await vscode.commands.executeCommand('revealFileInOS', uri);
  }

  async deleteRun(a?: Target & { skipConfirm?: boolean }, selection?: TreeNode[]): Promise<number> {
    const dirs = new Set<string>();
    for (const n of selection?.length ? selection : [a]) { const d = runDirOf(n as Target); if (d && (!('kind' in (n ?? {})) || (n as TreeNode).kind === 'run')) dirs.add(path.resolve(d)); }
    if (!dirs.size) return 0;
    const running = [...dirs].filter((d) => this.supervisor.isRunning(d));
    if (running.length) { void vscode.window.showWarningMessage(`RL Lens: stop ${running.map((d) => path.basename(d)).join(', ')} before deleting.`); return 0; }
    const names = [...dirs].map((d) => path.basename(d));
    if (!(a as { skipConfirm?: boolean } | undefined)?.skipConfirm) {
      const ok = await vscode.window.showWarningMessage(`Delete ${names.length === 1 ? `the run "${names[0]}"` : `${names.length} runs`} and all its files (checkpoints, rollouts)? This cannot be undone.`, { modal: true, detail: [...dirs].join('\n') }, 'Delete');
      if (ok !== 'Delete') return 0;
    }
    let n = 0;
    for (const d of dirs) {
      if (!isRunDir(d)) { void vscode.window.showErrorMessage(`RL Lens: ${d} has no manifest.json: not deleting a folder that is not a run.`); continue; }
      this.followers.get(d)?.dispose();
      this.followers.delete(d);
      await fs.promises.rm(d, { recursive: true, force: true });
      await this.tree.removeOpened(d);
      n++;
    }
    this.tree.rescan();
    return n;
  }

  dispose(): void {
    for (const f of this.followers.values()) f.dispose();
    this.gpuOut?.dispose();
  }
}

export class UntrustedError extends Error {}
