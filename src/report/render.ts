/**
 * Pure rendering: CheckpointReport → readable text document (language id `rl-lens-report`, coloured by
 * media/syntaxes/rl-lens-report.tmLanguage.json). Deterministic and line-stable so two reports line up in VS Code's
 * diff editor: same sections, same order (tensors in checkpoint order, generations in eval-set order), no timings.
 * ASCII "-" for minus: VS Code boxes U+2212 as an ambiguous character.
 */
import type { CheckpointReport, PassAtKResult, TensorRow } from './types';

/** k = 1, 2, 4, … ≤ n, plus n itself when n is not a power of two. */
export function kValues(n: number): number[] {
  const out: number[] = [];
  for (let k = 1; k <= n; k *= 2) out.push(k);
  if (out[out.length - 1] !== n && n >= 1) out.push(n);
  return out;
}

/** Fixed-width number: 4 significant decimals, exponent for very large / small magnitudes. */
export function fmt(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined) return '—';
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a >= 1e5 || a < 1e-3) return x.toExponential(digits - 1);
  return x.toFixed(digits);
}

export function fmtPct(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—';
  if (!Number.isFinite(x)) return fmt(x);
  return `${(100 * x).toFixed(x !== 0 && Math.abs(x) < 1e-3 ? 4 : 2)}%`;
}

/** Left-aligned columns separated by two spaces (right-aligned for numeric columns). */
export function table(header: string[], rows: string[][], rightAlign: boolean[] = []): string[] {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (rightAlign[i] ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ').trimEnd();
  return [line(header), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)];
}

/** A horizontal bar of `width` cells for a value in [0, 1] (eighth-block resolution). */
export function bar(x: number, width = 30): string {
  const v = Math.max(0, Math.min(1, Number.isFinite(x) ? x : 0)) * width;
  const full = Math.floor(v);
  const eighths = Math.round((v - full) * 8);
  const parts = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];
  let s = '█'.repeat(full);
  if (full < width && eighths > 0) s += parts[eighths];
  return s.padEnd(width, '·');
}

/** Quote model text so whitespace and control characters stay visible on one line. */
export function quote(s: string): string {
  return JSON.stringify(s);
}

/** Tensors: checkpoint order when few; otherwise the `top` most changed (or largest) first and the rest summarized. */
export function tensorSection(rows: TensorRow[], hasBase: boolean, maxRows = 48, top = 24): string[] {
  // two lines per tensor (name, shape, params, change; then its statistics, indented) so that a row fits one side of
  // the diff editor (~55 columns at 1400 px) instead of wrapping in the middle of a number
  const cells = (r: TensorRow) => [r.name, `[${r.shape.join(',')}]`, String(r.params), ...(hasBase ? [fmtPct(r.relChange)] : [])];
  const header = ['tensor', 'shape', 'params', ...(hasBase ? ['rel.change'] : [])];
  const right = [false, false, true, true];
  const stats = (r: TensorRow) => `    L2 ${fmt(r.l2)}  mean ${fmt(r.mean)}  std ${fmt(r.std)}  max|x| ${fmt(r.maxAbs)}`;
  const tensorTable = (rs: TensorRow[]): string[] => {
    const t = table(header, rs.map(cells), right);
    return [t[0], '    L2  mean  std  max|x|', t[1], ...rs.flatMap((r, i) => [t[i + 2], stats(r)])];
  };
  const out: string[] = [];
  if (hasBase) {
    const ranked = rows.filter((r) => r.relChange !== null && r.relChange !== undefined).sort((a, b) => (b.relChange! - a.relChange!) || a.name.localeCompare(b.name));
    const n = Math.min(ranked.length, rows.length > maxRows ? top : 5);
    if (n > 0) {
      out.push(`Most changed tensors (‖W - W_base‖ / ‖W_base‖):`);
      const nameW = Math.min(28, Math.max(...ranked.slice(0, n).map((r) => r.name.length)));
      ranked.slice(0, n).forEach((r, i) => out.push(`  ${String(i + 1).padStart(2)}. ${r.name.padEnd(nameW)} ${fmtPct(r.relChange).padStart(8)}  ${bar(maxOf(ranked) > 0 ? r.relChange! / maxOf(ranked) : 0, 10)}`));
      out.push('');
    }
  }
  if (rows.length <= maxRows) {
    out.push(...tensorTable(rows));
    return out;
  }
  // large checkpoint: the top tensors (by change when there is a base, else by size) in full, the rest summarized
  const order = hasBase
    ? [...rows].sort((a, b) => ((b.relChange ?? -1) - (a.relChange ?? -1)) || a.name.localeCompare(b.name))
    : [...rows].sort((a, b) => (b.params - a.params) || a.name.localeCompare(b.name));
  const shown = order.slice(0, top);
  const rest = order.slice(top);
  out.push(`${rows.length} tensors; showing the ${top} ${hasBase ? 'most changed' : 'largest'}, the other ${rest.length} summarized below.`);
  out.push(...tensorTable(shown));
  const restParams = rest.reduce((s, r) => s + r.params, 0);
  const rc = rest.map((r) => r.relChange).filter((x): x is number => typeof x === 'number').sort((a, b) => a - b);
  out.push(`… ${rest.length} more tensors, ${restParams} params` + (rc.length ? `; rel.change median ${fmtPct(rc[Math.floor((rc.length - 1) / 2)])}, max ${fmtPct(rc[rc.length - 1])}` : ''));
  return out;
}

function maxOf(rows: TensorRow[]): number {
  return rows.reduce((m, r) => Math.max(m, r.relChange ?? 0), 0);
}

/** pass@k table (base and this checkpoint side by side) and a bar chart. */
export function passAtKSection(p: PassAtKResult, base: PassAtKResult | undefined, labels: { base: string; this: string }): string[] {
  const out: string[] = [];
  out.push(`n = ${p.samples} samples per prompt, ${p.numPrompts} prompts, temperature ${p.temperature}, seed ${p.seed}; unbiased estimator 1 - C(n-c,k)/C(n,k) (Chen et al. 2021)`);
  const comparable = base && base.samples === p.samples && base.numPrompts === p.numPrompts;
  const rows = p.k.map((k, i) => {
    const b = comparable ? base!.values[base!.k.indexOf(k)] : undefined;
    const t = p.values[i];
    return [`pass@${k}`, ...(comparable ? [fmt(b), fmt(t), b === undefined ? '—' : signed(t - b)] : [fmt(t)])];
  });
  out.push(...table(['k', ...(comparable ? [labels.base, labels.this, 'Δ'] : [labels.this])], rows, [false, true, true, true]));
  out.push('');
  out.push('chart (bar = pass@k from 0 to 1):');
  const w = Math.max(...p.k.map((k) => `pass@${k}`.length));
  for (let i = 0; i < p.k.length; i++) {
    const k = p.k[i];
    const b = comparable ? base!.values[base!.k.indexOf(k)] : undefined;
    if (b !== undefined) out.push(`  ${`pass@${k}`.padEnd(w)}  base ${bar(b)} ${fmt(b)}`);
    out.push(`  ${(b !== undefined ? '' : `pass@${k}`).padEnd(w)}  ${b !== undefined ? 'this' : '    '} ${bar(p.values[i])} ${fmt(p.values[i])}`);
  }
  if (comparable) {
    const first = p.values[0] - base!.values[0];
    const last = p.values[p.values.length - 1] - base!.values[base!.values.length - 1];
    out.push('');
    out.push(`pass@1 Δ ${signed(first)}, pass@${p.k[p.k.length - 1]} Δ ${signed(last)}` + (first > 0 && last <= first ? ': the gain shrinks at large k (sharpening: base catches up with more samples)' : first > 0 && last > first ? ': the gain grows with k (new solutions, not only sharpening)' : ''));
    out.push(`(${p.numPrompts} prompts: each value's standard error is at most 0.5/√${p.numPrompts} = ${fmt(0.5 / Math.sqrt(Math.max(1, p.numPrompts)))})`);
  } else if (base) {
    out.push(`(base pass@k not comparable: ${base.samples} samples × ${base.numPrompts} prompts vs ${p.samples} × ${p.numPrompts})`);
  }
  return out;
}

function signed(x: number): string {
  return (x > 0 ? '+' : x < 0 ? '' : '±') + fmt(x);
}

function section(title: string): string[] {
  return ['', `## ${title}`, ''];
}

/** Sorted-key, flattened config: one `a.b.c = value` per line (diffs line by line). Long vocab arrays are shortened. */
export function flattenConfig(obj: unknown, prefix = ''): string[] {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    let v = JSON.stringify(obj);
    if (v !== undefined && v.length > 120) v = `${v.slice(0, 100)}… (${Array.isArray(obj) ? `${obj.length} items` : `${v.length} chars`})`;
    return [`${prefix} = ${v}`];
  }
  const out: string[] = [];
  for (const k of Object.keys(obj as Record<string, unknown>).sort()) out.push(...flattenConfig((obj as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k));
  return out;
}

/** The whole document. */
export function renderReport(r: CheckpointReport): string {
  const c = r.checkpoint;
  const L: string[] = [];
  L.push(`# RL Lens checkpoint report: ${c.name} (step ${c.step})`);
  L.push('');
  L.push(`run:        ${c.runName ?? '—'}${c.runDir ? `  (${c.runDir})` : ''}`);
  L.push(`checkpoint: ${c.dir}`);
  L.push(`step:       ${c.step}${c.tag ? `  [${c.tag}]` : ''}`);
  L.push(`algorithm:  ${c.algorithm}`);
  L.push(`time:       ${c.time}`);
  L.push(`base:       ${r.base ? `${r.base.name} (step ${r.base.step})${r.base.dir === c.dir ? '  (itself)' : ''}` : '— (none)'}`);
  L.push(`task:       ${r.task}`);
  L.push(`parameters: ${r.tensors.totalParams} in ${r.tensors.count} tensors`);

  L.push(...section('Metrics at this step'));
  const mk = Object.keys(r.metrics).sort();
  if (!mk.length) L.push('(none recorded)');
  for (const k of mk) L.push(`${k} = ${fmt(r.metrics[k])}`);
  if (r.trainerEval) L.push(`trainer eval: ${Object.entries(r.trainerEval.passAtK).map(([k, v]) => `pass@${k} ${fmt(v)}`).join(', ')} (${r.trainerEval.numPrompts} prompts × ${r.trainerEval.samplesPerPrompt} samples)`);

  L.push(...section(`Weights${r.base ? ` (relative change vs ${r.base.name})` : ''}`));
  L.push(...tensorSection(r.tensors.rows, Boolean(r.base)));

  const g = r.eval.generations;
  L.push(...section(`Generations (greedy, seed ${g.seed}, ${g.numPrompts} fixed eval prompts, ≤ ${g.maxNewTokens} new tokens)`));
  if (!g.items.length) L.push('(generations not computed: weights-only report; `rl-lens report CKPT --samples N` computes them)');
  const correct = g.items.filter((x) => x.correct).length;
  if (g.items.length) L.push(`greedy accuracy: ${correct}/${g.items.length} = ${fmt(correct / g.items.length)}; mean reward ${fmt(g.items.reduce((s, x) => s + x.reward, 0) / g.items.length)}`);
  L.push('');
  for (const it of g.items) {
    const parts = Object.keys(it.parts).sort().map((k) => `${k} ${fmt(it.parts[k])}`).join(', ');
    L.push(`[${String(it.index).padStart(3, '0')}] ${it.correct ? '✓' : '✗'} ${quote(it.prompt)} → ${quote(it.completion)}${it.finished ? '' : ' (truncated)'}  reward ${fmt(it.reward)}${parts ? ` (${parts})` : ''}${it.answer !== undefined ? `  answer ${quote(it.answer)}` : ''}`);
  }

  L.push(...section(`pass@k${r.base ? `: base (${r.base.name}) vs this (${c.name})` : ''}`));
  if (!r.eval.passAtK.k.length) L.push('(pass@k not computed)');
  else L.push(...passAtKSection(r.eval.passAtK, r.baseEval?.passAtK, { base: r.base ? `base step ${r.base.step}` : 'base', this: `this step ${c.step}` }));

  L.push(...section('Config'));
  L.push(...flattenConfig(r.config));
  L.push('');
  return L.join('\n');
}
