/**
 * The one deep merge of configs (pure, no imports): used by the trainer's config (presets + overrides) and by the
 * host's config preparation (a run config + the launch's overrides).
 *
 * Plain objects merge key by key, recursively; anything else in `b` (arrays, numbers, strings, null) replaces what
 * is in `a`; an `undefined` in `b` keeps `a`'s value. Neither argument is modified.
 */
export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown>;
export function deepMerge(a: unknown, b: unknown): unknown;
export function deepMerge(a: unknown, b: unknown): unknown {
  if (!isPlainObject(a) || !isPlainObject(b)) return b === undefined ? a : b;
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = deepMerge(a[k], v);
  return out;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
