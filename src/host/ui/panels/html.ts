/**
 * The HTML page of every RL Lens webview: strict CSP with a per-load nonce, only local scripts/styles
 * (dist/webview-main.js, media/webview/main.css), no remote content. No `vscode` import so tests can reuse it.
 */
import type { ViewKind } from '../../../shared/protocol';

export function makeNonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  const bytes = new Uint8Array(32);
  globalThis.crypto.getRandomValues(bytes); // Node ≥ 20 and browsers

  for (const b of bytes) s += chars[b % chars.length];
  return s;
}

export interface PageOptions {
  view: ViewKind;
  /** webview.cspSource */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
  title: string;
  /** extra scripts that must run first (tests: the fake host), each gets the nonce */
  preludeScriptUris?: string[];
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
  ].join('; ');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function renderWebviewHtml(o: PageOptions): string {
  const scripts = [...(o.preludeScriptUris ?? []), o.scriptUri].map((u) => `<script nonce="${o.nonce}" src="${esc(u)}"></script>`).join('\n    ');
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(o.cspSource, o.nonce)}">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    <link rel="stylesheet" nonce="${o.nonce}" href="${esc(o.styleUri)}">
    <title>${esc(o.title)}</title>
  </head>
  <body data-view="${o.view}">
    <div id="app"></div>
    ${scripts}
  </body>
</html>`;
}
