/**
 * Entry of the RL Lens webviews (bundled to dist/webview-main.js). The host page says which view to mount with
 * <body data-view="heatmap|group|dashboard">. Protocol: src/shared/protocol.ts.
 */
import { HostConnection } from './rpc';
import { RolloutView } from './views/rollouts';
import { DashboardView } from './views/dashboard';
import { TokenDiffView } from './views/tokenDiff';
import type { ViewKind } from '../shared/protocol';

function main(): void {
  const view = (document.body.dataset.view ?? 'heatmap') as ViewKind;
  const host = new HostConnection();
  const root = document.getElementById('app') ?? document.body;
  root.classList.add(`view-${view}`);
  const v = view === 'dashboard' ? new DashboardView(host, root) : view === 'tokenDiff' ? new TokenDiffView(host, root) : new RolloutView(view, host, root);
  (window as unknown as { __rlLens: unknown }).__rlLens = { view, instance: v, snapshot: () => v.snapshot() };
  host.on('init', (p) => {
    const st = p.state ?? host.getState();
    v.init({ ...p, state: st }).then(() => { document.body.dataset.ready = 'true'; }, (e: Error) => {
      host.notify('log/error', { message: e.stack ?? e.message });
      document.body.dataset.ready = 'error';
    });
  });
  window.addEventListener('error', (e) => host.notify('log/error', { message: `${e.message} at ${e.filename}:${e.lineno}` }));
  host.ready(view);
}

main();
