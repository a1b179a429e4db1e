/** Theme colours from VS Code's CSS variables (light, dark, high contrast); canvases redraw on theme change. */
import { paletteFor, type Palette, type ThemeKind } from './data/scales';

export interface Theme {
  kind: ThemeKind;
  palette: Palette;
  fg: string;
  muted: string;
  border: string;
  focus: string;
  font: string;
  mono: string;
  selection: string;
  /** line colours for dashboard series */
  series: string[];
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}

export function themeKind(): ThemeKind {
  const c = document.body.classList;
  if (c.contains('vscode-high-contrast-light')) return 'high-contrast-light';
  if (c.contains('vscode-high-contrast')) return 'high-contrast';
  if (c.contains('vscode-dark')) return 'dark';
  if (c.contains('vscode-light')) return 'light';
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function readTheme(): Theme {
  const kind = themeKind();
  const dark = kind === 'dark' || kind === 'high-contrast';
  const bg = cssVar('--vscode-editor-background', dark ? '#1e1e1e' : '#ffffff');
  return {
    kind,
    palette: paletteFor(kind, bg),
    fg: cssVar('--vscode-editor-foreground', dark ? '#d4d4d4' : '#1f1f1f'),
    muted: cssVar('--vscode-descriptionForeground', dark ? '#9d9d9d' : '#6b6b6b'),
    border: cssVar('--vscode-panel-border', dark ? '#444444' : '#d0d0d0'),
    focus: cssVar('--vscode-focusBorder', dark ? '#0078d4' : '#005fb8'),
    font: cssVar('--vscode-font-family', 'system-ui, sans-serif'),
    mono: cssVar('--vscode-editor-font-family', 'monospace'),
    selection: cssVar('--vscode-editor-selectionBackground', dark ? '#264f78' : '#add6ff'),
    series: dark
      ? ['#4aa3f0', '#f08a3c', '#5fc46c', '#e05d8a', '#b48ef0', '#e8d44d', '#3fc1c9', '#c98b5b']
      : ['#1f6fb5', '#d95f02', '#1b9e4b', '#c2185b', '#7b4fc4', '#a68a00', '#00838f', '#8d5524'],
  };
}

/** Call `cb` when VS Code switches theme (body class changes). */
export function onThemeChange(cb: () => void): void {
  new MutationObserver(() => cb()).observe(document.body, { attributes: true, attributeFilter: ['class', 'data-vscode-theme-kind'] });
}

/** Size a canvas for the device pixel ratio; returns the 2D context scaled to CSS pixels. */
export function fitCanvas(c: HTMLCanvasElement, w: number, h: number): CanvasRenderingContext2D {
  const dpr = window.devicePixelRatio || 1;
  const W = Math.max(1, Math.round(w * dpr)), H = Math.max(1, Math.round(h * dpr));
  if (c.width !== W || c.height !== H) { c.width = W; c.height = H; c.style.width = `${w}px`; c.style.height = `${h}px`; }
  const ctx = c.getContext('2d')!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

/** Create an element with text content only (never HTML). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, opts: { cls?: string; text?: string; title?: string; attrs?: Record<string, string> } = {}, ...children: (Node | null | undefined)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (opts.cls) e.className = opts.cls;
  if (opts.text !== undefined) e.textContent = opts.text;
  if (opts.title !== undefined) e.title = opts.title;
  for (const [k, v] of Object.entries(opts.attrs ?? {})) e.setAttribute(k, v);
  for (const c of children) if (c) e.appendChild(c);
  return e;
}
