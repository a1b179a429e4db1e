/**
 * rl-lens validate RUN_DIR [--json] [--quiet]
 *
 * Checks a run directory against the run format (docs/run-format.md, schemas/run-format.schema.json): the manifest,
 * every line of events / metrics / eval JSONL, every rollout step (header and samples against the schema, and their
 * consistency: sample count, indices, token counts, group indices, .f32 size = 4 × Σ arrays × length, offsets), and every
 * checkpoint (checkpoint.json against the schema, safetensors header and sizes). Prints each problem as
 * `file:line: field: message`; exit code 1 when there is any error (warnings, e.g. a torn last line after kill -9, do not fail).
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import * as fs from 'fs';
import * as path from 'path';
import { parseJsonlText } from '../runio/jsonl';
import { checkpointWeightsFile } from '../runio/reader';
import { FILES, parseStepFileBase, type InputProblem, type RolloutStepHeader } from '../shared/runFormat';
import { sampleBlockLength } from '../shared/rolloutStep';
import { RUN_FORMAT_SCHEMA } from '../trainer/runSchema';

type Def = keyof typeof RUN_FORMAT_SCHEMA.definitions;

let validators: Record<string, ValidateFunction> | undefined;
function validator(def: Def): ValidateFunction {
  if (!validators) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    ajv.addSchema(RUN_FORMAT_SCHEMA as unknown as Record<string, unknown>, 'run');
    validators = {};
    for (const d of Object.keys(RUN_FORMAT_SCHEMA.definitions)) validators[d] = ajv.getSchema(`run#/definitions/${d}`)!;
  }
  return validators[def];
}

function ajvField(e: ErrorObject): string {
  let f = e.instancePath.split('/').slice(1).map((k) => (/^\d+$/.test(k) ? `[${k}]` : `.${k}`)).join('').replace(/^\./, '');
  if (e.keyword === 'required') f += `${f ? '.' : ''}${(e.params as { missingProperty: string }).missingProperty}`;
  return f || '(root)';
}

function ajvMessage(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': return 'is required';
    case 'enum': return `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const': return `must be ${JSON.stringify(p.allowedValue)}`;
    case 'type': return `must be ${p.type}`;
    default: return e.message ?? e.keyword;
  }
}

/** Validate one value against a definition; problems carry file:line. */
function check(def: Def, value: unknown, file: string, line: number | undefined, out: InputProblem[]): boolean {
  const v = validator(def);
  if (v(value)) return true;
  const seen = new Set<string>();
  for (const e of v.errors ?? []) {
    if (e.keyword === 'if') continue;
    const field = ajvField(e), message = ajvMessage(e);
    const k = `${field}|${message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ file, line, field, message, severity: 'error' });
  }
  return false;
}

function checkJsonl(dir: string, name: string, def: Def, out: InputProblem[], required: boolean): { line: number; value: any }[] {
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) {
    if (required) out.push({ file, message: 'missing', severity: 'error' });
    return [];
  }
  const r = parseJsonlText<any>(fs.readFileSync(file, 'utf8'), file, { final: true });
  out.push(...r.problems);
  for (const rec of r.records) check(def, rec.value, file, rec.line, out);
  return r.records;
}

function checkRolloutStep(rdir: string, name: string, out: InputProblem[]): void {
  const file = path.join(rdir, name);
  const r = parseJsonlText<any>(fs.readFileSync(file, 'utf8'), file, { final: true });
  out.push(...r.problems);
  const [first, ...rest] = r.records;
  if (!first) { out.push({ file, line: 1, message: 'empty rollout file (needs a header line)', severity: 'error' }); return; }
  if (!check('rolloutHeader', first.value, file, first.line, out)) return;
  const h = first.value as RolloutStepHeader;
  const stepFromName = parseStepFileBase(name);
  if (stepFromName !== h.step) out.push({ file, line: first.line, field: 'step', message: `is ${h.step} but the file name says ${stepFromName}`, severity: 'error' });
  if (h.numSamples !== rest.length) out.push({ file, line: first.line, field: 'numSamples', message: `is ${h.numSamples} but the file has ${rest.length} sample lines`, severity: 'error' });
  let expectedOffset = 0;
  let totalFloats = 0;
  rest.forEach((rec, i) => {
    if (!check('rolloutSample', rec.value, file, rec.line, out)) return;
    const s = rec.value;
    if (s.index !== i) out.push({ file, line: rec.line, field: 'index', message: `is ${s.index}, expected ${i} (line number − 2)`, severity: 'error' });
    if (s.tokens.length !== s.length) out.push({ file, line: rec.line, field: 'length', message: `is ${s.length} but tokens has ${s.tokens.length} entries`, severity: 'error' });
    if (s.tokenIds && s.tokenIds.length !== s.length) out.push({ file, line: rec.line, field: 'tokenIds', message: `has ${s.tokenIds.length} entries, length is ${s.length}`, severity: 'error' });
    if (h.arrays.length && h.dataFile) {
      if (s.offset === undefined) out.push({ file, line: rec.line, field: 'offset', message: 'is required when the step has per-token arrays', severity: 'error' });
      else if (s.offset !== expectedOffset) out.push({ file, line: rec.line, field: 'offset', message: `is ${s.offset}, expected ${expectedOffset} (blocks are back to back: Σ arrays × length of earlier samples)`, severity: 'error' });
      expectedOffset += sampleBlockLength(h, s);
      totalFloats += sampleBlockLength(h, s);
    }
  });
  h.groups.forEach((g, gi) => {
    for (const si of g.samples) if (si >= rest.length) out.push({ file, line: first.line, field: `groups[${gi}].samples`, message: `refers to sample ${si} but the step has ${rest.length}`, severity: 'error' });
    if (g.rewards.length !== g.samples.length) out.push({ file, line: first.line, field: `groups[${gi}].rewards`, message: `has ${g.rewards.length} entries for ${g.samples.length} samples`, severity: 'error' });
  });
  if (h.dataFile) {
    const df = path.join(rdir, h.dataFile);
    if (!fs.existsSync(df)) out.push({ file, line: first.line, field: 'dataFile', message: `${h.dataFile} does not exist`, severity: 'error' });
    else {
      const size = fs.statSync(df).size;
      if (size !== 4 * totalFloats) out.push({ file: df, message: `size ${size} bytes, expected 4 × ${totalFloats} = ${4 * totalFloats} (Σ arrays × length over samples)`, severity: 'error' });
    }
  } else if (h.arrays.length && rest.length && rest.some((x) => x.value.length > 0)) {
    out.push({ file, line: first.line, field: 'dataFile', message: 'is required when arrays is not empty', severity: 'error' });
  }
}

function checkCheckpoint(cdir: string, out: InputProblem[]): void {
  const metaFile = path.join(cdir, FILES.checkpointMeta);
  if (!fs.existsSync(metaFile)) { out.push({ file: cdir, message: 'checkpoint folder without checkpoint.json (interrupted write?)', severity: 'warning' }); return; }
  let meta: unknown;
  try { meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')); } catch (e) { out.push({ file: metaFile, line: 1, message: `not valid JSON: ${(e as Error).message}`, severity: 'error' }); return; }
  check('checkpointMeta', meta, metaFile, undefined, out);
  // the full weights, or a LoRA checkpoint's PEFT adapter (its base lives elsewhere: checkpoint.json model.base)
  const wf = checkpointWeightsFile(cdir);
  if (!fs.existsSync(wf)) { out.push({ file: wf, message: 'missing', severity: 'error' }); return; }
  const fd = fs.openSync(wf, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const head = Buffer.alloc(8);
    if (size < 8 || fs.readSync(fd, head, 0, 8, 0) !== 8) { out.push({ file: wf, message: 'too short for safetensors', severity: 'error' }); return; }
    const n = Number(head.readBigUInt64LE(0));
    if (8 + n > size) { out.push({ file: wf, message: `header length ${n} exceeds the file size ${size}`, severity: 'error' }); return; }
    const hb = Buffer.alloc(n);
    fs.readSync(fd, hb, 0, n, 8);
    let header: Record<string, any>;
    try { header = JSON.parse(hb.toString('utf8')); } catch (e) { out.push({ file: wf, message: `safetensors header is not JSON: ${(e as Error).message}`, severity: 'error' }); return; }
    let end = 0;
    for (const [name, info] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const bytesPer: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4, I64: 8 };
      const bp = bytesPer[info?.dtype];
      if (!bp || !Array.isArray(info.shape) || !Array.isArray(info.data_offsets)) { out.push({ file: wf, field: name, message: `bad tensor entry ${JSON.stringify(info)}`, severity: 'error' }); continue; }
      const count = info.shape.reduce((a: number, b: number) => a * b, 1);
      if (info.data_offsets[1] - info.data_offsets[0] !== bp * count) out.push({ file: wf, field: name, message: `data_offsets ${JSON.stringify(info.data_offsets)} do not match shape [${info.shape}] × ${bp} bytes`, severity: 'error' });
      end = Math.max(end, info.data_offsets[1]);
    }
    if (8 + n + end !== size) out.push({ file: wf, message: `file size ${size} ≠ 8 + header ${n} + data ${end}`, severity: 'error' });
  } finally {
    fs.closeSync(fd);
  }
}

/** Validate a run directory; returns every problem found (errors and warnings). */
export function validateRun(dir: string): InputProblem[] {
  const out: InputProblem[] = [];
  const mf = path.join(dir, FILES.manifest);
  if (!fs.existsSync(mf)) { out.push({ file: mf, message: 'missing: not an RL Lens run folder', severity: 'error' }); return out; }
  const text = fs.readFileSync(mf, 'utf8');
  let manifest: any;
  try { manifest = JSON.parse(text); } catch (e) { out.push({ file: mf, line: 1, message: `not valid JSON: ${(e as Error).message}`, severity: 'error' }); }
  if (manifest !== undefined) {
    check('manifest', manifest, mf, undefined, out);
    if (manifest?.status === 'running') out.push({ file: mf, field: 'status', message: 'is "running": the trainer is still running, or was killed before it could mark the run', severity: 'warning' });
  }
  const events = checkJsonl(dir, FILES.events, 'event', out, true);
  checkJsonl(dir, FILES.metrics, 'metricsRecord', out, true);
  checkJsonl(dir, FILES.eval, 'evalRecord', out, false);
  // Training-Free GRPO's library per step (absent in other runs)
  checkJsonl(dir, 'experiences.jsonl', 'experienceStep', out, false);
  if (events.length && events[0].value?.type !== 'start') out.push({ file: path.join(dir, FILES.events), line: events[0].line, field: 'type', message: `first event should be "start", got ${JSON.stringify(events[0].value?.type)}`, severity: 'warning' });

  const rdir = path.join(dir, FILES.rolloutsDir);
  if (fs.existsSync(rdir)) {
    const names = fs.readdirSync(rdir).sort();
    const steps = new Set(names.filter((n) => /^step_\d+\.jsonl$/.test(n)).map((n) => n.replace(/\.jsonl$/, '')));
    for (const n of names) {
      if (/^step_\d+\.jsonl$/.test(n)) checkRolloutStep(rdir, n, out);
      else if (/^step_\d+\.f32$/.test(n) && !steps.has(n.replace(/\.f32$/, ''))) out.push({ file: path.join(rdir, n), message: 'data file without its .jsonl (a step interrupted before it was published); ignored by readers', severity: 'warning' });
      else if (n.startsWith('.') && n.endsWith('.tmp')) out.push({ file: path.join(rdir, n), message: 'temporary file of an interrupted write; safe to delete', severity: 'warning' });
    }
  }
  const cdir = path.join(dir, FILES.checkpointsDir);
  if (fs.existsSync(cdir)) {
    for (const n of fs.readdirSync(cdir).sort()) {
      const p = path.join(cdir, n);
      if (n.startsWith('.')) { out.push({ file: p, message: 'temporary folder of an interrupted checkpoint write; safe to delete', severity: 'warning' }); continue; }
      if (fs.statSync(p).isDirectory()) checkCheckpoint(p, out);
    }
  }
  return out;
}

export function formatProblem(p: InputProblem, base?: string): string {
  const f = base ? path.relative(base, p.file) || p.file : p.file;
  return `${f}${p.line ? `:${p.line}` : ''}: ${p.field ? `${p.field}: ` : ''}${p.message}${p.severity === 'warning' ? ' (warning)' : ''}`;
}

export async function run(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const quiet = argv.includes('--quiet');
  const dirs = argv.filter((a) => !a.startsWith('--'));
  if (dirs.length !== 1) {
    process.stderr.write('usage: rl-lens validate RUN_DIR [--json] [--quiet]\n');
    return 2;
  }
  const dir = path.resolve(dirs[0]);
  const problems = validateRun(dir);
  const errors = problems.filter((p) => p.severity !== 'warning');
  if (json) process.stdout.write(JSON.stringify({ dir, errors: errors.length, warnings: problems.length - errors.length, problems }, null, 2) + '\n');
  else {
    for (const p of problems) if (!quiet || p.severity !== 'warning') process.stdout.write(formatProblem(p, process.cwd()) + '\n');
    process.stdout.write(`${dir}: ${errors.length} error(s), ${problems.length - errors.length} warning(s)${errors.length ? '' : ': valid'}\n`);
  }
  return errors.length ? 1 : 0;
}
