/**
 * The token comparison webview panel (issue 21): the shared page (html.ts: strict CSP, nonce, local script only) with
 * `data-view="tokenDiff"`, the protocol's envelope checks (parseWebviewMessage / answerRequest), and the two requests
 * of this view answered from one comparison folder (data.ts). Every other request is refused.
 */
import * as vscode from 'vscode';
import { PROTOCOL_VERSION, parseWebviewMessage, type RequestMessage, type WebviewRequestHandlers } from '../../shared/protocol';
import { answerRequest } from '../ui/panels/requests';
import { makeNonce, renderWebviewHtml } from '../ui/panels/html';
import { VIEW_TYPES } from '../ui/panels/panel';
import { TokenDiffData } from './data';

export const TOKEN_DIFF_VIEW_TYPE = VIEW_TYPES.tokenDiff;

export class TokenDiffPanel implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly onDisposeEmitter = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.onDisposeEmitter.event;
  /** requests and notifications received (tests) */
  readonly received: string[] = [];
  private disposed = false;

  constructor(readonly panel: vscode.WebviewPanel, extensionUri: vscode.Uri, readonly data: TokenDiffData, private readonly log: (m: string) => void) {
    const dist = vscode.Uri.joinPath(extensionUri, 'dist'), media = vscode.Uri.joinPath(extensionUri, 'media');
    panel.webview.options = { enableScripts: true, localResourceRoots: [dist, media] };
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'rl-lens.svg');
    panel.title = `RL Lens ${data.title()}`;
    panel.webview.html = renderWebviewHtml({
      view: 'tokenDiff', nonce: makeNonce(), cspSource: panel.webview.cspSource, title: 'Token Comparison',
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(dist, 'webview-main.js')).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(media, 'webview', 'main.css')).toString(),
    });
    this.disposables.push(panel.webview.onDidReceiveMessage((m) => void this.receive(m)), panel.onDidDispose(() => this.dispose()));
  }

  get dir(): string { return this.data.dir; }

  private readonly handlers: WebviewRequestHandlers = new Proxy({} as WebviewRequestHandlers, {
    get: (_t, method: string) => {
      if (method === 'tokenDiff/summary') return () => this.data.overview();
      if (method === 'tokenDiff/samples') return (p: { samples: unknown }) => this.data.page(p.samples);
      return () => { throw new Error(`${method}: not available in the token comparison view`); };
    },
  });

  private async receive(raw: unknown): Promise<void> {
    const msg = parseWebviewMessage(raw);
    if (!('kind' in msg)) { this.log(`token comparison webview: ${msg.error}`); return; }
    this.received.push(`${msg.kind}:${msg.method}`);
    if (msg.kind === 'request') {
      const res = await answerRequest(this.handlers, msg as RequestMessage);
      if (!this.disposed) void this.panel.webview.postMessage(res);
      return;
    }
    if (msg.method === 'ready') {
      void this.panel.webview.postMessage({ kind: 'notification', method: 'init', params: { protocol: PROTOCOL_VERSION, view: 'tokenDiff', runs: [] } });
    } else if (msg.method === 'log/error') this.log(`token comparison webview: ${msg.params.message}`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.onDisposeEmitter.fire();
    this.onDisposeEmitter.dispose();
    this.panel.dispose();
  }
}
