/** Colour legend (SVG via d3): gradient over the robust domain, ticks, the raw range, and the clip marker key. */
import { select } from 'd3-selection';
import { scaleLinear } from 'd3-scale';
import { axisBottom } from 'd3-axis';
import { fmt, legendTicks, type RobustDomain } from '../data/scales';
import type { MetricDef } from '../data/step';
import type { Theme } from '../theme';

let gradId = 0;

/** How a legend reads its values (default: fmt, "centred on 0"): e.g. a log-scale ratio shows e^x, centred on 1. */
export interface LegendFormat { title?: string; value?: (v: number) => string; centre?: string }

export function drawLegend(host: HTMLElement, metric: MetricDef, domain: RobustDomain, color: (v: number) => string, theme: Theme, showClips: boolean, format: LegendFormat = {}): void {
  const fv = format.value ?? ((v: number) => fmt(v));
  host.replaceChildren();
  const W = 260, H = 36;
  const svg = select(host).append('svg').attr('width', W + 20).attr('height', H).attr('class', 'legend-svg').attr('role', 'img')
    .attr('aria-label', `${metric.label} colour scale`);
  if (metric.categorical) {
    const items: [string, string][] = [['none', theme.palette.background], ['low', theme.palette.clipLow], ['high', theme.palette.clipHigh], ['dual', theme.palette.clipDual]];
    items.forEach(([name, c], k) => {
      const g = svg.append('g').attr('transform', `translate(${10 + k * 62},6)`);
      g.append('rect').attr('width', 14).attr('height', 14).attr('fill', k === 0 ? color(0) : color(k)).attr('stroke', theme.border);
      g.append('text').attr('x', 18).attr('y', 11).attr('fill', theme.fg).attr('font-size', 11).text(name);
    });
  } else {
    const id = `lg${++gradId}`;
    const grad = svg.append('defs').append('linearGradient').attr('id', id);
    for (let k = 0; k <= 32; k++) {
      const v = domain.lo + (domain.hi - domain.lo) * (k / 32);
      grad.append('stop').attr('offset', `${(k / 32) * 100}%`).attr('stop-color', color(v));
    }
    svg.append('rect').attr('x', 10).attr('y', 2).attr('width', W).attr('height', 12).attr('fill', `url(#${id})`).attr('stroke', theme.border);
    const x = scaleLinear().domain([domain.lo, domain.hi]).range([10, 10 + W]);
    const ax = svg.append('g').attr('transform', 'translate(0,14)').call(axisBottom(x).tickValues(legendTicks(domain, 5)).tickFormat((d) => (format.value ? format.value(Number(d)) : fmt(Number(d), 3))).tickSizeOuter(0));
    ax.selectAll('text').attr('fill', theme.fg);
    ax.selectAll('line,path').attr('stroke', theme.muted);
  }
  const info = document.createElement('div');
  info.className = 'legend-info';
  info.textContent = metric.categorical
    ? 'clip code per token'
    : `${format.title ? `${format.title} · ` : ''}${metric.signed ? `diverging, ${format.centre ?? 'centred on 0'}` : 'sequential'} · colour domain [${fv(domain.lo)}, ${fv(domain.hi)}] (p${domain.pLow}–p${domain.pHigh}${metric.signed ? ', symmetric' : ''}) · raw range [${fv(domain.rawMin)}, ${fv(domain.rawMax)}]${domain.clipped ? ' · values beyond are clamped' : ''}`;
  info.id = 'legend-info';
  host.appendChild(info);
  if (showClips && !metric.categorical) {
    const key = document.createElement('div');
    key.className = 'clip-key';
    for (const [name, c, cls] of [['clip low', theme.palette.clipLow, 'low'], ['clip high', theme.palette.clipHigh, 'high'], ['dual clip', theme.palette.clipDual, 'dual']] as const) {
      const sw = document.createElement('span');
      sw.className = `clip-swatch ${cls}`;
      sw.style.setProperty('--swatch', c);
      const lab = document.createElement('span');
      lab.textContent = name;
      key.append(sw, lab);
    }
    host.appendChild(key);
  }
}
