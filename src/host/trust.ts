/**
 * Workspace Trust for run configs (pure: no `vscode`). In an untrusted workspace RL Lens shows runs but
 * executes nothing that comes from the workspace: a config that names code (a custom reward module, a
 * script, a plugin) is refused before the trainer starts, and the trainer gets RL_LENS_TRUSTED=0 so it
 * refuses such modules too (defence in depth; the trainer's own check is src/trainer's business).
 */

const CODE_EXT = /\.(c|m)?(j|t)sx?$|\.(py|sh|bash|node|so|dylib|dll|wasm)$/i;
const CODE_KEYS = new Set(['module', 'rewardmodule', 'rewardfn', 'rewardfunction', 'code', 'script', 'plugin', 'require', 'import', 'command', 'exec', 'hook', 'callback']);
const CODE_TYPES = new Set(['module', 'custom', 'code', 'js', 'javascript', 'script', 'function', 'plugin']);

export interface CodeReference { path: string; value: string; why: string }

/**
 * Every place in a config that makes the trainer load or run code: a key like `module`/`rewardModule`,
 * `type: "module" | "custom"`, or any string value that is a path to a code file.
 */
export function findCodeReferences(config: unknown): CodeReference[] {
  const out: CodeReference[] = [];
  const walk = (v: unknown, at: string): void => {
    if (Array.isArray(v)) { v.forEach((x, i) => walk(x, `${at}[${i}]`)); return; }
    if (v === null || typeof v !== 'object') {
      if (typeof v === 'string' && CODE_EXT.test(v.trim()) && !/\s/.test(v.trim()) && !/^https?:/.test(v)) out.push({ path: at || '(root)', value: v, why: 'names a code file' });
      return;
    }
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const p = at ? `${at}.${k}` : k;
      if (k === '$schema') continue;
      const lk = k.toLowerCase();
      if (CODE_KEYS.has(lk) && x !== null && x !== undefined && x !== false && x !== '') {
        out.push({ path: p, value: typeof x === 'string' ? x : JSON.stringify(x), why: `"${k}" loads or runs code` });
        continue;
      }
      if (lk === 'type' && typeof x === 'string' && CODE_TYPES.has(x.toLowerCase())) {
        out.push({ path: p, value: x, why: `type "${x}" runs user code` });
        continue;
      }
      walk(x, p);
    }
  };
  walk(config, '');
  // one entry per path
  const seen = new Set<string>();
  return out.filter((r) => (seen.has(r.path) ? false : (seen.add(r.path), true)));
}

export function untrustedRefusal(source: string, refs: CodeReference[]): string {
  const list = refs.slice(0, 5).map((r) => `${r.path} = ${r.value.length > 60 ? r.value.slice(0, 59) + '…' : r.value} (${r.why})`).join('; ');
  return `RL Lens will not start ${source} in an untrusted workspace: the config runs code from the workspace (${list}${refs.length > 5 ? `; and ${refs.length - 5} more` : ''}). ` +
    'Trust the workspace (Workspaces: Manage Workspace Trust) if you know this code, or remove those fields. Viewing runs works without trust.';
}
