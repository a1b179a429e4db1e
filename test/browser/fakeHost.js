// Fake VS Code host for the RL Lens webview bundle in a plain browser page (tests, benchmark, screenshots).
// It provides acquireVsCodeApi(); requests are answered by Node (page.exposeFunction('__hostRequest')) with the
// REAL host data code (src/host/ui/panels/dataProvider.ts); binary step data travels base64 (CSP forbids fetch).
(function () {
  const cfg = window.__fakeHostConfig || { view: 'heatmap', runs: [], target: undefined, state: undefined };
  const log = (window.__hostLog = []);
  let state = cfg.state;
  function applyTheme(vars, bodyClass) {
    for (const [k, v] of Object.entries(vars || {})) document.documentElement.style.setProperty(k, v);
    if (bodyClass) { document.body.classList.remove('vscode-light', 'vscode-dark', 'vscode-high-contrast', 'vscode-high-contrast-light'); document.body.classList.add(bodyClass); }
  }
  window.__fakeHostTheme = applyTheme;
  applyTheme(cfg.themeVars, cfg.bodyClass);
  function deliver(msg) { window.dispatchEvent(new MessageEvent('message', { data: msg })); }
  window.__fakeHostPost = deliver;
  window.acquireVsCodeApi = function () {
    return {
      getState() { return state; },
      setState(s) { state = s; window.__savedState = s; },
      postMessage(msg) {
        log.push(msg);
        if (msg.kind === 'notification') {
          if (window.__hostNotify) window.__hostNotify(JSON.stringify(msg));
          if (msg.method === 'ready') deliver({ kind: 'notification', method: 'init', params: { protocol: 1, view: cfg.view, runs: cfg.runs, target: cfg.target, state: cfg.state } });
          return;
        }
        if (msg.kind === 'request') {
          window.__hostRequest(JSON.stringify(msg)).then(async (res) => {
            const r = JSON.parse(res);
            // the page's CSP forbids fetch (default-src 'none'), as in VS Code: bytes come base64 from Node
            // (rollout/getStep's data; the windowed heatmap's data and strips; the dashboard's metric columns and windows)
            for (const k of ['data', 'strips', 'steps', 'values', 'clock', 'windowData']) {
              const b64 = r.ok && r.result ? r.result[k + 'Base64'] : undefined;
              if (typeof b64 !== 'string') continue;
              delete r.result[k + 'Base64'];
              const bytes = Uint8Array.fromBase64 ? Uint8Array.fromBase64(b64) : Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
              r.result[k] = bytes.buffer;
            }
            deliver(Object.assign({ kind: 'response', id: msg.id }, r));
          });
        }
      },
    };
  };
})();
