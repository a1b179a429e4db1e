/**
 * pass@k curves of a base and an RL checkpoint as a standalone SVG (pure; drawn in a script-free webview).
 * x: log2 k evenly spaced (k = 1, 2, 4, … n), y: pass@k in [0, 1]. Colours come from VS Code's chart theme variables.
 * The SVG scales to its container (width 100%, viewBox CHART.width × CHART.height).
 */
export interface PassAtKSeries { label: string; values: number[] }

export const CHART = { width: 580, height: 300, left: 48, right: 200, top: 16, bottom: 40 } as const;

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]!));
}

/** Pixel position of (index i of m points, value v). */
export function chartPoint(i: number, m: number, v: number): { x: number; y: number } {
  const w = CHART.width - CHART.left - CHART.right, h = CHART.height - CHART.top - CHART.bottom;
  const x = CHART.left + (m <= 1 ? w / 2 : (i / (m - 1)) * w);
  const y = CHART.top + (1 - Math.max(0, Math.min(1, v))) * h;
  return { x: Math.round(x * 10) / 10, y: Math.round(y * 10) / 10 };
}

export function passAtKSvg(k: number[], series: PassAtKSeries[]): string {
  const m = k.length;
  const colors = ['var(--vscode-charts-orange, #d18616)', 'var(--vscode-charts-blue, #3794ff)'];
  const fg = 'var(--vscode-foreground, #ccc)';
  const parts: string[] = [];
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const a = chartPoint(0, m, t), y = a.y;
    parts.push(`<line x1="${CHART.left}" x2="${CHART.width - CHART.right}" y1="${y}" y2="${y}" stroke="${fg}" stroke-opacity="0.15"/>`);
    parts.push(`<text x="${CHART.left - 6}" y="${y + 4}" text-anchor="end" fill="${fg}" font-size="11">${t}</text>`);
  }
  k.forEach((kk, i) => {
    const p = chartPoint(i, m, 0);
    parts.push(`<text x="${p.x}" y="${CHART.height - CHART.bottom + 16}" text-anchor="middle" fill="${fg}" font-size="11">${kk}</text>`);
  });
  parts.push(`<text x="${(CHART.left + CHART.width - CHART.right) / 2}" y="${CHART.height - 6}" text-anchor="middle" fill="${fg}" font-size="12">k (samples per prompt)</text>`);
  series.forEach((s, j) => {
    const pts = s.values.map((v, i) => chartPoint(i, m, v));
    const color = colors[j % colors.length];
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${p.x},${p.y}`).join(' ')}"/>`);
    for (const p of pts) parts.push(`<circle cx="${p.x}" cy="${p.y}" r="3" fill="${color}"/>`);
    const ly = CHART.top + 14 + 18 * j;
    parts.push(`<line x1="${CHART.width - CHART.right + 12}" x2="${CHART.width - CHART.right + 30}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${CHART.width - CHART.right + 34}" y="${ly}" fill="${fg}" font-size="11">${escapeXml(s.label)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 ${CHART.width} ${CHART.height}" role="img" aria-label="pass@k">${parts.join('')}</svg>`;
}
