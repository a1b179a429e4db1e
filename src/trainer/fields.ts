/**
 * Config fields declared once (like TRL's GRPOConfig dataclass): each field of an algorithm family's config section
 * has its JSON-Schema type and bounds, its default (and per-algorithm overrides), its meaning and its reference
 * (paper / verl / TRL / OpenRLHF). The section's JSON Schema (config validation, schemas/config.schema.json), its
 * defaults and the tables of docs/config.md (scripts/gen-config-docs.ts) are all derived from the declaration.
 * Pure: no imports.
 */

export interface FieldDecl {
  /** JSON Schema of the value without description / default (type, minimum, enum, items, …); objects: use `fields` */
  schema?: Record<string, unknown>;
  /** default value; absent: the field is optional and has no default */
  default?: unknown;
  /** per-algorithm defaults that replace `default` (key: the config's `algorithm`) */
  byAlgorithm?: Record<string, unknown>;
  /** what the field means (one sentence; units, what 0 / null mean) */
  doc: string;
  /** where the value and its meaning come from: paper, verl / TRL / OpenRLHF option (file:line where cited) */
  ref?: string;
  /** sub-fields: the field is an object with exactly these fields */
  fields?: Fields;
  /** say in the docs how the default is computed when it is not a constant (e.g. "sampling.maxNewTokens") */
  defaultNote?: string;
  /** the field exists only for these algorithms (sections shared by several, e.g. the preference methods) */
  only?: string[];
}

export type Fields = Record<string, FieldDecl>;

/** A field's default for `algorithm`: its per-algorithm override when it has one, else `default`. */
export function fieldDefault(f: FieldDecl, algorithm?: string): unknown {
  return algorithm !== undefined && f.byAlgorithm && algorithm in f.byAlgorithm ? f.byAlgorithm[algorithm] : f.default;
}

function describe(f: FieldDecl): string {
  return f.ref ? `${f.doc} [${f.ref}]` : f.doc;
}

/**
 * The JSON Schema of a section. `withDefaults`: put each field's `default` in the schema (config.ts applyDefaults then
 * fills them); off for sections whose defaults depend on the algorithm (the module's `defaults` fills them).
 */
export function sectionSchema(fields: Fields, opts: { description?: string; withDefaults: boolean; algorithm?: string }): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(fields)) {
    if (f.only && (opts.algorithm === undefined || !f.only.includes(opts.algorithm))) continue;
    const s: Record<string, unknown> = f.fields
      ? sectionSchema(f.fields, { withDefaults: opts.withDefaults, description: describe(f), algorithm: opts.algorithm })
      : { ...(f.schema ?? {}), description: describe(f) };
    const d = fieldDefault(f, opts.algorithm);
    if (opts.withDefaults && d !== undefined) s.default = structuredClone(d);
    properties[k] = s;
  }
  return { type: 'object', additionalProperties: false, ...(opts.description ? { description: opts.description } : {}), properties };
}

/** The defaults of a section for `algorithm` (per-algorithm overrides win); fields without a default are left out. */
export function sectionDefaults(fields: Fields, algorithm?: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(fields)) {
    if (f.only && (algorithm === undefined || !f.only.includes(algorithm))) continue;
    if (f.fields) {
      const sub = sectionDefaults(f.fields, algorithm);
      if (Object.keys(sub).length) out[k] = sub;
      continue;
    }
    const v = fieldDefault(f, algorithm);
    if (v !== undefined) out[k] = structuredClone(v);
  }
  return out;
}

/** One row per leaf field (dotted path), for documentation. */
export interface FieldRow { path: string; type: string; default?: unknown; byAlgorithm?: Record<string, unknown>; defaultNote?: string; only?: string[]; doc: string; ref?: string }

export function fieldRows(fields: Fields, prefix = ''): FieldRow[] {
  const rows: FieldRow[] = [];
  for (const [k, f] of Object.entries(fields)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (f.fields) { rows.push(...fieldRows(f.fields, p)); continue; }
    rows.push({ path: p, type: typeName(f.schema ?? {}), default: f.default, byAlgorithm: f.byAlgorithm, defaultNote: f.defaultNote, only: f.only, doc: f.doc, ref: f.ref });
  }
  return rows;
}

/** A short type for docs: `integer ≥ 1`, `"a" | "b"`, `number | null`, `boolean`. */
export function typeName(s: Record<string, unknown>): string {
  if (Array.isArray(s.enum)) return s.enum.map((v) => JSON.stringify(v)).join(' \\| ');
  const t = Array.isArray(s.type) ? (s.type as string[]).join(' \\| ') : String(s.type ?? 'any');
  const b: string[] = [];
  if (s.minimum !== undefined) b.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) b.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) b.push(`≤ ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) b.push(`< ${s.exclusiveMaximum}`);
  return b.length ? `${t} ${b.join(', ')}` : t;
}
