/**
 * The Runs tree, as data (no `vscode` import: unit-tested with node:test). src/host/ui/runsTree.ts turns
 * these descriptions into vscode.TreeItems.
 *
 * Runs → run (status icon, algorithm, task, step, reward) → [Stages] → Checkpoints → checkpoint (step, pass@1)
 *                                                          → Steps → step → group (prompt, mean ± std, filtered marker)
 *                                                                                 → sample (completion, reward, advantage)
 *                                                          → Diagnosis → finding (when a diagnosis provider is set)
 */
import * as path from 'path';
import type { PipelineSummary, RolloutGroup, RolloutSample, RunManifest } from '../../../shared/runFormat';
import type { StepInfo } from '../../../shared/protocol';
import { stageDirs, type RunEntry, type RunStore } from '../../runStore';
import { evidenceCommand } from '../../doctor/evidence';
import { headline } from '../../headline';
import { runDisplayLabel } from '../../runLabel';
import { readRolloutIndex } from '../../../runio/reader';
import type { Finding as DoctorFinding } from '../../../doctor/types';

export type RunNode =
  | { kind: 'run'; runDir: string; stageOf?: string; stageName?: string }
  | { kind: 'checkpoints'; runDir: string }
  | { kind: 'checkpoint'; runDir: string; name: string; dir: string; step?: number }
  | { kind: 'steps'; runDir: string }
  | { kind: 'step'; runDir: string; step: number }
  | { kind: 'group'; runDir: string; step: number; group: string }
  | { kind: 'sample'; runDir: string; step: number; sample: number }
  | { kind: 'diagnosis'; runDir: string }
  | { kind: 'finding'; runDir: string; index: number; finding: Finding }
  | { kind: 'message'; runDir?: string; text: string; detail?: string; severity: 'info' | 'warning' | 'error' };

/** What the doctor reports (structural subset; src/doctor may carry more fields). */
export interface Finding {
  id?: string;
  check?: string;
  title?: string;
  message?: string;
  severity: 'info' | 'warning' | 'error' | string;
  steps?: [number, number] | { from: number; to: number };
  stepRange?: [number, number];
  advice?: string | string[];
  /** src/doctor's name for the advice */
  remedy?: string;
}
export type DiagnosisProvider = (runDir: string) => Finding[] | Promise<Finding[]>;

export interface NodeView {
  id: string;
  label: string;
  description?: string;
  /** markdown */
  tooltip?: string;
  /** codicon id and optional theme color id */
  icon?: { id: string; color?: string };
  collapsible: 'none' | 'collapsed' | 'expanded';
  /** used in package.json `when` clauses: viewItem =~ /^rlLens\.run/ etc. */
  contextValue: string;
  command?: { command: string; title: string; args: unknown[] };
  /** a folder/file this node stands for (resourceUri) */
  resource?: string;
}

const STATUS_ICON: Record<string, { id: string; color?: string }> = {
  running: { id: 'sync~spin', color: 'charts.blue' },
  completed: { id: 'pass', color: 'testing.iconPassed' },
  failed: { id: 'error', color: 'testing.iconFailed' },
  stopped: { id: 'debug-stop', color: 'charts.yellow' },
  invalid: { id: 'warning', color: 'problemsWarningIcon.foreground' },
  unknown: { id: 'question' },
};

/** Make whitespace visible and keep one line (tree labels are single-line). */
export function oneLine(s: string, max = 60): string {
  const v = s.replace(/\r?\n/g, '⏎').replace(/\t/g, '→').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '�');
  return v.length > max ? v.slice(0, max - 1) + '…' : v;
}

/** Escape text for a MarkdownString tooltip (untrusted model text stays text). */
export function mdEscape(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>&~]/g, (c) => `\\${c}`).replace(/\n/g, '  \n');
}

export function fmtNum(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  const a = Math.abs(v);
  if (a < 1e-12) return '0'; // float noise (e.g. the std of equal rewards)
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return String(Number(v.toFixed(digits)));
}
export function fmtSigned(v: number | undefined, digits = 2): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  return (v > 0 ? '+' : v < 0 ? '−' : '±') + Math.abs(v).toFixed(digits);
}

function rewardOf(m: Record<string, number | null> | undefined): number | undefined {
  const v = m?.['reward/mean'];
  return typeof v === 'number' ? v : undefined;
}
export function runLabel(e: RunEntry, now?: Date): string {
  return runDisplayLabel({ dir: e.dir, name: e.manifest?.name, id: e.manifest?.id, startedAt: e.manifest?.startedAt }, now);
}

export function runDescription(e: RunEntry): string {
  const m = e.manifest;
  if (!m) return e.manifestError ? 'not readable' : '';
  const parts: string[] = [m.algorithm];
  if (m.task) parts.push(m.task);
  const step = e.lastStep ?? m.step;
  if (step !== undefined) parts.push(m.totalSteps ? `${step}/${m.totalSteps}` : `step ${step}`);
  const h = headline(e.latestMetrics);
  if (h) parts.push(`${h.short} ${fmtNum(h.value, 3)}`);
  if (m.status !== 'completed' && m.status !== 'running') parts.push(m.status);
  if (m.source?.format) parts.push(`from ${m.source.format}`);
  // a pipeline's verdict first: the side bar cuts the description from the right
  const ps = pipelineSummary(m.pipeline).short;
  if (ps) parts.unshift(ps);
  return parts.join(' · ');
}

/**
 * What a pipeline's stages gave, for the parent's tooltip (markdown lines) and description (one short phrase): the RM's
 * held-out and on-policy agreement, and whether RL raised the RM score AND the hidden true score. A rising RM score over
 * a falling hidden score is called out: that is reward hacking, whatever the RM says.
 */
export function pipelineSummary(p: PipelineSummary | undefined): { lines: string[]; short?: string; hacking: boolean } {
  if (!p) return { lines: [], hacking: false };
  const lines: string[] = [];
  const pass1 = p.sft?.passAtK?.['1'];
  if (p.sft) lines.push(`**SFT**: eval pass@1 ${fmtNum(pass1)}`);
  const rm = p.rewardModel;
  if (rm) {
    const acc = rm.after?.['eval/rm/accuracy'], corr = rm.after?.['eval/rm/accuracy_correctness_only'];
    let l = `**Reward model**: held-out accuracy ${fmtNum(acc)}${corr !== undefined ? ` (pairs differing only in correctness: ${fmtNum(corr)})` : ''}`;
    const o = rm.onPolicy;
    if (o?.pairAccuracy !== undefined) l += `; on ${o.samples} SFT samples it orders ${fmtNum(100 * o.pairAccuracy, 1)}% of same-prompt pairs as the hidden rule, best-of-${o.n} hidden score ${fmtNum(o.bestOfNHidden)} (mean ${fmtNum(o.hiddenMean)})`;
    if (rm.normalize) l += `; RL reads (RM − ${fmtNum(rm.normalize.mean)}) / ${fmtNum(rm.normalize.std)}`;
    lines.push(l);
  }
  const rl = p.rl;
  let short: string | undefined;
  let hacking = false;
  if (rl) {
    const arrow = (x?: { first: number; last: number }) => (x ? `${fmtNum(x.first)} → ${fmtNum(x.last)}` : '–');
    const parts = [`RM score ${arrow(rl.rmScore)}`];
    if (rl.hiddenScore) parts.push(`hidden true score ${arrow(rl.hiddenScore)}`);
    if (rl.eval) parts.push(`eval pass@1 ${fmtNum(rl.eval.before.passAtK['1'])} → ${fmtNum(rl.eval.after.passAtK['1'])}`);
    lines.push(`**${mdEscape(rl.algorithm.toUpperCase())}**: ${parts.join('; ')}`);
    if (rl.rmScore && rl.hiddenScore) {
      // first vs last (≤ 5) logged steps; a fall under 0.03 is within step-to-step noise at 16 prompts × 8 samples
      hacking = rl.rmScore.last > rl.rmScore.first && rl.hiddenScore.last < rl.hiddenScore.first - 0.03;
      short = `hidden ${fmtNum(rl.hiddenScore.first, 2)}→${fmtNum(rl.hiddenScore.last, 2)}`;
      if (hacking) lines.push('**⚠ the RM score rose while the hidden true score fell: the policy exploits the reward model (reward hacking)**');
    }
  }
  return { lines, short: hacking ? `${short} ⚠ hacking` : short, hacking };
}

/** Markdown tooltip: status, times, backend, and the config's main knobs. */
export function runTooltip(e: RunEntry): string {
  const m = e.manifest;
  if (!m) return `**${mdEscape(path.basename(e.dir))}**  \n${mdEscape(e.manifestError ?? 'no manifest')}`;
  const lines = [
    `**${mdEscape(runLabel(e))}** — ${mdEscape(m.status)}`,
    `algorithm: \`${m.algorithm}\`${m.task ? ` · task: \`${m.task}\`` : ''}`,
    `started ${mdEscape(m.startedAt ?? '?')}${m.endedAt ? ` · ended ${mdEscape(m.endedAt)}` : ''}`,
  ];
  if (m.backend?.name) lines.push(`backend: ${mdEscape(String(m.backend.name))}${m.backend.gpu ? ` (${mdEscape(m.backend.gpu)})` : ''}`);
  if (m.model?.parameters) lines.push(`model: ${fmtNum(m.model.parameters / 1e6, 2)} M parameters`);
  if (m.error?.message) lines.push(`**error:** ${mdEscape(m.error.message)}`);
  const ps = pipelineSummary(m.pipeline);
  if (ps.lines.length) lines.push('', ...ps.lines);
  const summary = configSummary(m.config);
  if (summary.length) lines.push('', '| config | value |', '|---|---|', ...summary.map(([k, v]) => `| ${mdEscape(k)} | ${mdEscape(v)} |`));
  lines.push('', mdEscape(e.dir));
  return lines.join('  \n');
}

/** Flatten a config to (dotted key, short value) pairs, scalars only, at most `max` rows. */
export function configSummary(config: Record<string, unknown> | undefined, max = 24): [string, string][] {
  const out: [string, string][] = [];
  const walk = (o: unknown, prefix: string, depth: number): void => {
    if (out.length >= max || o === null || typeof o !== 'object' || Array.isArray(o) || depth > 3) return;
    for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
      if (out.length >= max) return;
      const key = prefix ? `${prefix}.${k}` : k;
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) walk(v, key, depth + 1);
      else if (Array.isArray(v)) out.push([key, oneLine(JSON.stringify(v), 40)]);
      else if (k !== '$schema') out.push([key, oneLine(String(v), 40)]);
    }
  };
  walk(config, '', 0);
  return out;
}

export interface TreeModelOptions {
  diagnose?: DiagnosisProvider;
  /** maximum number of step nodes listed (latest first); older ones summarised */
  maxSteps?: number;
  /** is this run's trainer supervised by this window? (a "running" run that is not, and has not written for
   *  10 minutes, is shown as stale) */
  isSupervised?: (runDir: string) => boolean;
  /** is this imported run followed live by this window? (an imported run is never shown as a running trainer) */
  isFollowed?: (runDir: string) => boolean;
  /** what a supervised run is doing before its first step, e.g. "warm start 120/400" */
  phaseOf?: (runDir: string) => string | undefined;
  now?: () => number;
}

export class RunsTreeModel {
  constructor(private readonly store: RunStore, public opts: TreeModelOptions = {}) {}

  /** Top level: the given run folders, minus stages shown under their parent. */
  roots(runDirs: string[]): RunNode[] {
    const dirs = [...new Set(runDirs.map((d) => path.resolve(d)))];
    const stages = new Set<string>();
    for (const d of dirs) for (const s of stageDirs(d, this.store.get(d).manifest)) stages.add(s.dir);
    return dirs.filter((d) => !stages.has(d)).map((d) => ({ kind: 'run', runDir: d }));
  }

  async children(n: RunNode): Promise<RunNode[]> {
    switch (n.kind) {
      case 'run': {
        const e = this.store.get(n.runDir);
        if (!e.manifest) return [{ kind: 'message', runDir: n.runDir, text: e.manifestError ?? 'not an RL Lens run', severity: 'error' }];
        const out: RunNode[] = [];
        for (const s of stageDirs(n.runDir, e.manifest)) out.push({ kind: 'run', runDir: s.dir, stageOf: n.runDir, stageName: s.name });
        if (e.manifest.error?.message && e.status === 'failed') out.push({ kind: 'message', runDir: n.runDir, text: `failed: ${oneLine(e.manifest.error.message, 120)}`, detail: e.manifest.error.message, severity: 'error' });
        if (e.checkpoints.length || !e.manifest.stages?.length) out.push({ kind: 'checkpoints', runDir: n.runDir });
        if (e.steps.length || !e.manifest.stages?.length) out.push({ kind: 'steps', runDir: n.runDir });
        if (this.opts.diagnose) out.push({ kind: 'diagnosis', runDir: n.runDir });
        return out;
      }
      case 'checkpoints': {
        const e = this.store.get(n.runDir);
        if (!e.checkpoints.length) return [{ kind: 'message', runDir: n.runDir, text: 'no checkpoints yet', severity: 'info' }];
        return e.checkpoints.map((c) => ({ kind: 'checkpoint', runDir: n.runDir, name: c.name, dir: c.dir, step: c.meta?.step }));
      }
      case 'steps': {
        const e = this.store.get(n.runDir);
        if (!e.steps.length) return [{ kind: 'message', runDir: n.runDir, text: e.status === 'running' ? 'waiting for the first rollout…' : 'no rollouts recorded', severity: 'info' }];
        const max = this.opts.maxSteps ?? 500;
        const steps = [...e.steps].reverse();
        const shown: RunNode[] = steps.slice(0, max).map((s) => ({ kind: 'step', runDir: n.runDir, step: s }));
        if (steps.length > max) shown.push({ kind: 'message', runDir: n.runDir, text: `${steps.length - max} older steps not listed (open the dashboard to reach them)`, severity: 'info' });
        return shown;
      }
      case 'step': {
        let st;
        try { st = this.store.step(n.runDir, n.step); } catch (err) {
          return [{ kind: 'message', runDir: n.runDir, text: oneLine((err as Error).message, 120), detail: (err as Error).message, severity: 'error' }];
        }
        const groups = st.header.groups ?? [];
        if (!groups.length) return st.samples.map((s) => ({ kind: 'sample', runDir: n.runDir, step: n.step, sample: s.index }));
        return groups.map((g) => ({ kind: 'group', runDir: n.runDir, step: n.step, group: g.id }));
      }
      case 'group': {
        const st = this.store.step(n.runDir, n.step);
        const g = st.header.groups.find((x) => x.id === n.group);
        const idx = g?.samples ?? st.samples.filter((s) => s.group === n.group).map((s) => s.index);
        return idx.map((i) => ({ kind: 'sample', runDir: n.runDir, step: n.step, sample: i }));
      }
      case 'diagnosis': {
        if (!this.opts.diagnose) return [];
        let findings: Finding[];
        try { findings = await this.opts.diagnose(n.runDir); } catch (err) {
          return [{ kind: 'message', runDir: n.runDir, text: `diagnosis failed: ${oneLine((err as Error).message, 100)}`, severity: 'error' }];
        }
        if (!findings.length) return [{ kind: 'message', runDir: n.runDir, text: 'no problems found', severity: 'info' }];
        return findings.map((f, i) => ({ kind: 'finding', runDir: n.runDir, index: i, finding: f }));
      }
      default: return [];
    }
  }

  view(n: RunNode): NodeView {
    switch (n.kind) {
      case 'run': {
        const e = this.store.get(n.runDir);
        const st = e.status;
        const now = this.opts.now?.() ?? Date.now();
        const label = n.stageName ? `${n.stageName}: ${e.manifest?.name ?? path.basename(e.dir)}` : runLabel(e, new Date(now));
        // an imported run has no trainer: never a spinning "running" icon or a Stop button; "following" while this window follows its source
        const imported = !!e.manifest?.source && !this.opts.isSupervised?.(e.dir);
        const following = imported && st === 'running' && !!this.opts.isFollowed?.(e.dir);
        const stale = !imported && !this.opts.isSupervised?.(e.dir) && e.isStale(now);
        const staleText = stale ? `no update for ${Math.round((now - e.lastActivity) / 60_000)} min: trainer not running?` : '';
        const phase = st === 'running' ? this.opts.phaseOf?.(e.dir) : undefined;
        const liveText = imported && st === 'running' ? (following ? 'following the source' : 'imported (not followed)') : '';
        return {
          id: `run:${n.stageOf ?? ''}:${n.runDir}`, label, description: [phase, runDescription(e), liveText, staleText].filter(Boolean).join(' · '),
          tooltip: runTooltip(e) + (stale ? `  \n**${staleText}** (the manifest still says "running"; the trainer may have been killed with its window)` : ''),
          // a pipeline whose RL stage hacked its reward model gets a warning icon: seen at any side-bar width
          icon: imported && st === 'running' ? { id: following ? 'eye' : 'history' }
            : stale ? { id: 'watch', color: 'problemsWarningIcon.foreground' }
            : pipelineSummary(e.manifest?.pipeline).hacking ? { id: 'warning', color: 'problemsWarningIcon.foreground' } : STATUS_ICON[st] ?? STATUS_ICON.unknown,
          collapsible: 'collapsed',
          contextValue: `rlLens.run.${imported && st === 'running' ? (following ? 'following' : 'imported') : st}${e.manifest?.stages?.length ? '.pipeline' : ''}`, resource: n.runDir,
        };
      }
      case 'checkpoints': {
        const e = this.store.get(n.runDir);
        return { id: `ckpts:${n.runDir}`, label: 'Checkpoints', description: String(e.checkpoints.length), icon: { id: 'save-all' }, collapsible: 'collapsed', contextValue: 'rlLens.checkpoints' };
      }
      case 'checkpoint': {
        const e = this.store.get(n.runDir);
        const c = e.checkpoints.find((x) => x.name === n.name);
        const p1 = c ? e.passAt1(c) : undefined;
        const parts = [n.step !== undefined ? `step ${n.step}` : undefined, c?.meta?.tag && c.meta.tag !== 'periodic' ? c.meta.tag : undefined, p1 !== undefined ? `pass@1 ${fmtNum(p1, 3)}` : undefined].filter(Boolean);
        const tip = [`**checkpoint ${mdEscape(n.name)}**`, n.step !== undefined ? `step ${n.step}` : '', c?.meta?.time ? mdEscape(c.meta.time) : '', c?.problem ? `**problem:** ${mdEscape(c.problem)}` : '',
          ...Object.entries(c?.meta?.eval?.passAtK ?? {}).map(([k, v]) => `pass@${k}: ${fmtNum(v)}`), mdEscape(n.dir)].filter(Boolean).join('  \n');
        return { id: `ckpt:${n.dir}`, label: n.name, description: parts.join(' · '), tooltip: tip, icon: { id: c?.problem ? 'warning' : 'package' }, collapsible: 'none', contextValue: 'rlLens.checkpoint', resource: n.dir };
      }
      case 'steps': {
        const e = this.store.get(n.runDir);
        return { id: `steps:${n.runDir}`, label: 'Steps', description: e.steps.length ? `${e.steps.length} with rollouts` : '', icon: { id: 'list-ordered' }, collapsible: 'collapsed', contextValue: 'rlLens.steps' };
      }
      case 'step': {
        const e = this.store.get(n.runDir);
        const m = e.metrics.get(n.step);
        const parts: string[] = [];
        const h = headline(m);
        if (h) parts.push(`${h.short} ${fmtNum(h.value)}`);
        if (typeof m?.kl === 'number') parts.push(`kl ${fmtNum(m.kl)}`);
        // what the step's file holds vs what its metrics cover: trace retention may store fewer groups than were generated
        let sh: StepInfo | undefined;
        // the step index (rollouts/index.jsonl, read incrementally) first: a step row never opens its step file
        const ix = readRolloutIndex(n.runDir).get(n.step);
        if (ix) sh = { step: n.step, traced: !!ix.traced, samples: ix.samples ?? 0, groups: ix.groups ?? 0, ...(ix.subsampled ? { subsampled: true } : {}), ...(typeof ix.totalGroups === 'number' ? { totalGroups: ix.totalGroups } : {}), ...(typeof ix.totalSamples === 'number' ? { totalSamples: ix.totalSamples } : {}) };
        else try { sh = this.store.stepHeader(n.runDir, n.step); } catch { sh = undefined; }
        const cut = sh?.subsampled ? (sh.totalGroups !== undefined ? `${sh.groups} of ${sh.totalGroups} groups stored` : `${sh.groups} groups stored (subsampled)`) : undefined;
        if (cut) parts.push(cut);
        if (typeof m?.frac_reward_zero_std === 'number') parts.push(`zero-std ${Math.round(m.frac_reward_zero_std * 100)}%${cut ? ` of all${sh?.totalGroups !== undefined ? ` ${sh.totalGroups}` : ''}` : ''}`);
        const tip = [
          `**step ${n.step}**: ${sh === undefined ? 'rollout file not readable' : sh.traced ? 'per-token traces stored (the heatmap colours every token)' : 'text only (no per-token arrays at this step: the heatmap shows text; traces are kept every few steps)'}`,
          ...(sh ? [sh.subsampled
            ? `**stored:** ${sh.totalGroups !== undefined ? `${sh.groups} of ${sh.totalGroups}` : sh.groups} groups${sh.totalSamples !== undefined ? ` (${sh.samples} of ${sh.totalSamples} samples)` : ` (${sh.samples} samples)`}: trace retention (\`rollouts.maxSamples\`) keeps whole groups in order; the groups listed below are the stored ones`
            : `**stored:** all ${sh.groups} groups (${sh.samples} samples), listed below`] : []),
          ...(m ? [`**metrics** (reward, kl, zero-std, …) cover every group the step generated${sh?.totalGroups !== undefined ? ` (${sh.totalGroups})` : ''}, stored or not; \`frac_reward_zero_std\` = share of the generated groups whose rewards were all equal (with dynamic sampling, the dropped groups too)`, '',
            ...Object.entries(m).slice(0, 30).map(([k, v]) => `${mdEscape(k)}: ${fmtNum(v)}`)] : []),
        ].join('  \n');
        return {
          id: `step:${n.runDir}:${n.step}`, label: `step ${n.step}`, description: parts.join(' · '), tooltip: tip, icon: { id: sh?.traced ? 'symbol-color' : 'debug-step-over' },
          collapsible: 'collapsed', contextValue: 'rlLens.step',
          command: undefined,
        };
      }
      case 'group': {
        const st = this.store.step(n.runDir, n.step);
        const g = st.header.groups.find((x) => x.id === n.group);
        return groupView(n, g);
      }
      case 'sample': {
        const st = this.store.step(n.runDir, n.step);
        const s = st.samples[n.sample] ?? st.samples.find((x) => x.index === n.sample);
        return sampleView(n, s);
      }
      case 'diagnosis':
        return { id: `diag:${n.runDir}`, label: 'Diagnosis', icon: { id: 'pulse' }, collapsible: 'collapsed', contextValue: 'rlLens.diagnosis' };
      case 'finding': {
        const f = n.finding;
        const range = f.stepRange ?? (Array.isArray(f.steps) ? f.steps : f.steps ? [f.steps.from, f.steps.to] : undefined);
        const sevIcon = f.severity === 'error' ? { id: 'error', color: 'problemsErrorIcon.foreground' } : f.severity === 'warning' ? { id: 'warning', color: 'problemsWarningIcon.foreground' } : { id: 'info', color: 'problemsInfoIcon.foreground' };
        const advice = Array.isArray(f.advice) ? f.advice.join('  \n') : f.advice ?? f.remedy;
        return {
          id: `finding:${n.runDir}:${n.index}`, label: f.title ?? f.check ?? f.id ?? 'finding', description: range ? `steps ${range[0]}–${range[1]}` : undefined,
          tooltip: [f.message ? mdEscape(f.message) : '', advice ? `**usual fixes:** ${mdEscape(advice)}` : ''].filter(Boolean).join('  \n\n'),
          icon: sevIcon, collapsible: 'none', contextValue: 'rlLens.finding',
          command: findingCommand(n.runDir, f, range),
        };
      }
      case 'message':
        return {
          id: `msg:${n.runDir ?? ''}:${n.text}`, label: n.text, tooltip: n.detail ? mdEscape(n.detail) : undefined,
          icon: n.severity === 'error' ? { id: 'error', color: 'problemsErrorIcon.foreground' } : n.severity === 'warning' ? { id: 'warning' } : { id: 'info' },
          collapsible: 'none', contextValue: 'rlLens.message',
        };
    }
  }
}

/** A finding node opens its evidence: a doctor finding (id + stepRange) through evidenceCommand (heatmap of its samples,
 *  group view of its groups, or the dashboard at its curves and steps); anything else the dashboard at its first step. */
export function findingCommand(runDir: string, f: Finding, range: [number, number] | undefined): NonNullable<NodeView['command']> {
  if (typeof f.id === 'string' && Array.isArray(f.stepRange)) {
    const c = evidenceCommand(runDir, f as unknown as DoctorFinding);
    return { command: c.command, title: c.title, args: c.args };
  }
  return { command: 'rlLens.showDashboard', title: 'Show evidence', args: [{ runDir, finding: f.id ?? f.check, step: range?.[0] }] };
}

export function groupView(n: Extract<RunNode, { kind: 'group' }>, g: RolloutGroup | undefined): NodeView {
  const id = `group:${n.runDir}:${n.step}:${n.group}`;
  if (!g) return { id, label: `group ${n.group}`, icon: { id: 'question' }, collapsible: 'collapsed', contextValue: 'rlLens.group' };
  const zeroVar = g.rewards.length > 1 && g.rewards.every((r) => r === g.rewards[0]);
  const marker = g.filtered ? `filtered${g.filterReason ? ` (${g.filterReason.replace(/_/g, ' ')})` : ''}` : zeroVar ? 'zero variance' : '';
  const desc = [`μ ${fmtNum(g.mean, 2)} ± ${fmtNum(g.std, 2)}`, `${g.samples.length} samples`, marker].filter(Boolean).join(' · ');
  const tip = [
    `**prompt:** \`${oneLine(g.prompt, 200).replace(/`/g, 'ˋ')}\``,
    g.answer !== undefined ? `answer: \`${oneLine(String(g.answer), 100).replace(/`/g, 'ˋ')}\`` : '',
    `rewards: ${g.rewards.map((r) => fmtNum(r, 2)).join(', ')}`,
    `mean ${fmtNum(g.mean)} · std ${fmtNum(g.std)}${g.baseline !== undefined ? ` · baseline ${fmtNum(g.baseline)}` : ''}`,
    marker ? `**${marker}**: this group gave no gradient` : '',
  ].filter(Boolean).join('  \n');
  return {
    id, label: oneLine(g.prompt, 50), description: desc, tooltip: tip,
    icon: g.filtered || zeroVar ? { id: 'circle-slash', color: 'problemsWarningIcon.foreground' } : { id: 'symbol-array' },
    // no click command: a click expands the group to its samples; the group view opens from the inline action
    // (package.json view/item/context rlLens.showGroup on viewItem =~ /^rlLens\.group/) or the context menu
    collapsible: 'collapsed', contextValue: g.filtered || zeroVar ? 'rlLens.group.filtered' : 'rlLens.group',
  };
}

export function sampleView(n: Extract<RunNode, { kind: 'sample' }>, s: RolloutSample | undefined): NodeView {
  const id = `sample:${n.runDir}:${n.step}:${n.sample}`;
  if (!s) return { id, label: `sample ${n.sample}`, icon: { id: 'question' }, collapsible: 'none', contextValue: 'rlLens.sample' };
  const parts = [`r ${fmtNum(s.reward, 2)}`];
  if (s.advantage !== undefined) parts.push(`A ${fmtSigned(s.advantage)}`);
  if (s.role) parts.push(s.role);
  if (s.truncated) parts.push('truncated');
  const rp = s.rewardParts ? Object.entries(s.rewardParts).map(([k, v]) => `${mdEscape(k)} ${fmtNum(v, 3)}`).join(', ') : '';
  const tip = [
    '**completion**', '```text', s.completion.replace(/```/g, 'ˋˋˋ'), '```',
    `reward ${fmtNum(s.reward)}${rp ? ` (${rp})` : ''}${s.advantage !== undefined ? ` · advantage ${fmtNum(s.advantage)}` : ''} · ${s.length} tokens`,
  ].join('\n');
  return {
    id, label: oneLine(s.completion.length ? s.completion : '(empty)', 50), description: parts.join(' · '), tooltip: tip,
    icon: sampleIcon(s),
    collapsible: 'none', contextValue: 'rlLens.sample',
    command: { command: 'rlLens.showHeatmap', title: 'Show Token Heatmap', args: [{ runDir: n.runDir, step: n.step, sample: n.sample }] },
  };
}

/**
 * Correct / wrong when the reward has an accuracy part (built-in tasks, most verifiable rewards); else what the update
 * did with the sample: its sequence advantage's sign (above / below its group: rewards that are all positive, like
 * the stories tasks', say nothing by their sign); else the reward's sign.
 */
function sampleIcon(s: RolloutSample): { id: string; color?: string } {
  const acc = s.rewardParts?.accuracy ?? s.rewardParts?.correct;
  if (typeof acc === 'number') return acc > 0 ? { id: 'pass', color: 'testing.iconPassed' } : { id: 'close', color: 'testing.iconFailed' };
  const v = typeof s.advantage === 'number' && Number.isFinite(s.advantage) ? s.advantage : s.reward;
  return { id: v > 0 ? 'thumbsup' : v < 0 ? 'thumbsdown' : 'circle-outline' };
}

/** Arguments the tree passes to commands, from a node (for context menus and multi-select). */
export function nodeArgs(n: RunNode): { runDir?: string; step?: number; sample?: number; group?: string; checkpoint?: string } {
  switch (n.kind) {
    case 'checkpoint': return { runDir: n.runDir, checkpoint: n.dir, step: n.step };
    case 'step': return { runDir: n.runDir, step: n.step };
    case 'group': return { runDir: n.runDir, step: n.step, group: n.group };
    case 'sample': return { runDir: n.runDir, step: n.step, sample: n.sample };
    default: return { runDir: n.runDir };
  }
}

export type { RunManifest };
