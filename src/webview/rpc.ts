/**
 * Webview side of src/shared/protocol.ts: id-correlated requests, notifications, the ready handshake and
 * vscode getState/setState. In tests the page defines a fake `acquireVsCodeApi` (test/browser).
 */
import {
  PROTOCOL_VERSION, parseHostMessage,
  type HostNotificationMap, type Params, type RequestMethod, type Result, type ViewKind, type WebviewNotificationMap, type WebviewState,
} from '../shared/protocol';

interface VsCodeApi { postMessage(msg: unknown): void; getState(): unknown; setState(s: unknown): void }
declare function acquireVsCodeApi(): VsCodeApi;

type Handler<K extends keyof HostNotificationMap> = (p: HostNotificationMap[K]) => void;

export class HostConnection {
  private readonly api: VsCodeApi;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; method: string }>();
  private readonly handlers = new Map<string, ((p: unknown) => void)[]>();

  constructor() {
    this.api = acquireVsCodeApi();
    window.addEventListener('message', (ev: MessageEvent) => this.receive(ev.data));
  }

  private receive(data: unknown): void {
    const msg = parseHostMessage(data);
    if (!('kind' in msg)) { console.warn(`[rl-lens] ${msg.error}`); return; }
    if (msg.kind === 'response') {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result); else p.reject(new Error(`${p.method}: ${msg.error}`));
      return;
    }
    for (const h of this.handlers.get(msg.method) ?? []) {
      try { h(msg.params); } catch (e) { this.notify('log/error', { message: `${msg.method}: ${(e as Error).stack ?? e}` }); }
    }
  }

  /** Ask the host (WebviewRequests in src/shared/protocol.ts): the promise carries that method's result type. */
  request<M extends RequestMethod>(method: M, params: Params<M>): Promise<Result<M>> {
    const id = this.nextId++;
    return new Promise<Result<M>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, method });
      this.api.postMessage({ kind: 'request', id, method, params });
    });
  }

  notify<K extends keyof WebviewNotificationMap>(method: K, params: WebviewNotificationMap[K]): void {
    this.api.postMessage({ kind: 'notification', method, params });
  }

  on<K extends keyof HostNotificationMap>(method: K, h: Handler<K>): void {
    const list = this.handlers.get(method) ?? [];
    list.push(h as (p: unknown) => void);
    this.handlers.set(method, list);
  }

  /** Send `ready` (call after all `on` handlers are registered). */
  ready(view: ViewKind): void { this.notify('ready', { view, protocol: PROTOCOL_VERSION }); }

  getState(): WebviewState | undefined { return (this.api.getState() as WebviewState | undefined) ?? undefined; }

  private stateTimer: ReturnType<typeof setTimeout> | undefined;
  /** Save state now (vscode.setState) and tell the host (throttled). */
  setState(s: WebviewState): void {
    this.api.setState(s);
    clearTimeout(this.stateTimer);
    this.stateTimer = setTimeout(() => this.notify('state/changed', s), 300);
  }
}
