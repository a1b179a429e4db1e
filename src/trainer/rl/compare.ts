/**
 * Runnable comparisons of algorithms (the survey's claims): the same config (task, model, warm start, seed, steps)
 * run under several algorithms, then one comparison written next to the runs:
 *   OUT/<algorithm>/             a normal run directory per algorithm (open any of them in RL Lens)
 *   OUT/comparison.json          per algorithm: final / best pass@k, curves of pass@1, pass@k, entropy, KL, reward, and
 *                                what the run spent: policy tokens generated, tool calls executed (multi-turn), wall time
 *   OUT/comparison.md            the table
 *   OUT/comparison.html          self-contained page (inline SVG, no scripts, no remote content): the curves
 */
import * as fs from 'fs';
import * as path from 'path';
import { readEvals, readMetrics } from '../../runio/reader';
import { writeFileAtomic } from '../../runio/writer';

export interface Curve { step: number; value: number }
export interface AlgorithmSummary {
  algorithm: string;
  runDir: string;
  status: string;
  seconds: number;
  passAtK: { start: Record<string, number>; end: Record<string, number> };
  curves: Record<string, Curve[]>;
  /** what the training steps spent (eval excluded): Σ tokens/generated; Σ env/tool_calls/executed (multi-turn runs,
   *  else null: shared tree prefixes count once); the mean train reward over the last 10 steps */
  budget?: { steps: number; tokens: number; toolCalls: number | null; rewardLast10: number };
}
export interface Comparison { title: string; createdAt: string; config: Record<string, unknown>; algorithms: AlgorithmSummary[] }

const CURVES: [string, 'train' | 'eval'][] = [['eval/pass@1', 'eval'], ['reward/mean', 'train'], ['entropy', 'train'], ['kl', 'train'], ['clip_ratio/high_mean', 'train'], ['clip_ratio/low_mean', 'train'], ['response_length/mean', 'train']];

/** Summarise one finished run directory. */
export function summariseRun(algorithm: string, runDir: string, status: string, seconds: number): AlgorithmSummary {
  const evals = readEvals(runDir);
  const metrics = readMetrics(runDir);
  const curves: Record<string, Curve[]> = {};
  const ks = new Set<string>();
  for (const e of evals) for (const k of Object.keys(e.passAtK)) ks.add(k);
  for (const k of ks) curves[`eval/pass@${k}`] = evals.filter((e) => e.passAtK[k] !== undefined).map((e) => ({ step: e.step, value: e.passAtK[k] }));
  for (const [name, split] of CURVES) {
    if (curves[name]) continue;
    const pts = metrics.filter((m) => (m.split ?? 'train') === split && typeof m.values[name] === 'number').map((m) => ({ step: m.step, value: m.values[name] as number }));
    if (pts.length) curves[name] = pts;
  }
  const train = metrics.filter((m) => (m.split ?? 'train') === 'train');
  const sum = (k: string) => train.reduce((a, m) => a + (typeof m.values[k] === 'number' ? m.values[k] as number : 0), 0);
  const rewards = train.map((m) => m.values['reward/mean']).filter((v): v is number => typeof v === 'number').slice(-10);
  const budget = {
    steps: train.length, tokens: sum('tokens/generated'),
    toolCalls: train.some((m) => typeof m.values['env/tool_calls/executed'] === 'number') ? sum('env/tool_calls/executed') : null,
    rewardLast10: rewards.length ? rewards.reduce((a, b) => a + b, 0) / rewards.length : NaN,
  };
  const start = evals.length ? evals[0].passAtK : {};
  const end = evals.length ? evals[evals.length - 1].passAtK : {};
  return { algorithm, runDir: path.basename(runDir), status, seconds, passAtK: { start, end }, curves, budget };
}

function esc(s: string): string { return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!)); }

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#000000'];

function svgChart(title: string, series: { name: string; pts: Curve[] }[]): string {
  const W = 420, H = 240, L = 48, R = 10, T = 24, B = 30;
  const all = series.flatMap((s) => s.pts);
  if (!all.length) return '';
  let x0 = Math.min(...all.map((p) => p.step)), x1 = Math.max(...all.map((p) => p.step));
  let y0 = Math.min(...all.map((p) => p.value)), y1 = Math.max(...all.map((p) => p.value));
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y1 += 0.5; y0 -= 0.5; }
  const sx = (x: number) => L + (x - x0) / (x1 - x0) * (W - L - R), sy = (y: number) => H - B - (y - y0) / (y1 - y0) * (H - T - B);
  const lines = series.map((s, i) => `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.8" points="${s.pts.map((p) => `${sx(p.step).toFixed(1)},${sy(p.value).toFixed(1)}`).join(' ')}"><title>${esc(s.name)}</title></polyline>`).join('');
  const ticks = [y0, (y0 + y1) / 2, y1].map((y) => `<text x="${L - 4}" y="${sy(y) + 4}" text-anchor="end" font-size="10">${esc(y.toPrecision(3))}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="${esc(title)}"><text x="${W / 2}" y="14" text-anchor="middle" font-size="12" font-weight="bold">${esc(title)}</text>`
    + `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#888"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#888"/>${ticks}`
    + `<text x="${L}" y="${H - 8}" font-size="10">${x0}</text><text x="${W - R}" y="${H - 8}" font-size="10" text-anchor="end">step ${x1}</text>${lines}</svg>`;
}

export function renderMarkdown(c: Comparison): string {
  const ks = [...new Set(c.algorithms.flatMap((a) => Object.keys(a.passAtK.end)))].sort((a, b) => Number(a) - Number(b));
  const last = (a: AlgorithmSummary, k: string) => { const p = a.curves[k]; return p?.length ? p[p.length - 1].value : NaN; };
  const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : (100 * x).toFixed(1));
  const calls = c.algorithms.some((a) => a.budget?.toolCalls !== null && a.budget?.toolCalls !== undefined);
  const lines = [`# ${c.title}`, '', `created ${c.createdAt}; same config and seed for every algorithm (see comparison.json).`, '',
    `| algorithm | status | ${ks.map((k) => `pass@${k} start → end (%)`).join(' | ')} | train reward (last 10 steps) | policy tokens generated |${calls ? ' tool calls executed |' : ''} final entropy | final KL | time (s) |`,
    `|---|---|${ks.map(() => '---').join('|')}|---|---|${calls ? '---|' : ''}---|---|---|`];
  for (const a of c.algorithms) {
    const b = a.budget;
    lines.push(`| ${a.algorithm} | ${a.status} | ${ks.map((k) => `${f(a.passAtK.start[k])} → ${f(a.passAtK.end[k])}`).join(' | ')} | ${b && Number.isFinite(b.rewardLast10) ? b.rewardLast10.toFixed(3) : '–'} | ${b ? b.tokens : '–'} |${calls ? ` ${b?.toolCalls ?? '–'} |` : ''} ${last(a, 'entropy').toFixed(3)} | ${last(a, 'kl').toExponential(2)} | ${a.seconds.toFixed(0)} |`);
  }
  return lines.join('\n') + '\n';
}

export function renderHtml(c: Comparison): string {
  const names = [...new Set(c.algorithms.flatMap((a) => Object.keys(a.curves)))];
  const charts = names.map((n) => svgChart(n, c.algorithms.map((a) => ({ name: a.algorithm, pts: a.curves[n] ?? [] })))).join('\n');
  const legend = c.algorithms.map((a, i) => `<span style="color:${COLORS[i % COLORS.length]}">■ ${esc(a.algorithm)}</span>`).join(' &nbsp; ');
  const table = esc(renderMarkdown(c));
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"><title>${esc(c.title)}</title></head>`
    + `<body style="font-family:sans-serif"><h1>${esc(c.title)}</h1><p>${legend}</p><div style="display:flex;flex-wrap:wrap;gap:12px">${charts}</div><pre>${table}</pre></body></html>\n`;
}

export function writeComparison(outDir: string, c: Comparison): string[] {
  fs.mkdirSync(outDir, { recursive: true });
  const files = [path.join(outDir, 'comparison.json'), path.join(outDir, 'comparison.md'), path.join(outDir, 'comparison.html')];
  writeFileAtomic(files[0], JSON.stringify(c, null, 2) + '\n');
  writeFileAtomic(files[1], renderMarkdown(c));
  writeFileAtomic(files[2], renderHtml(c));
  return files;
}
