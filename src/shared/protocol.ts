/**
 * The ONE message protocol between the extension host (src/host/ui/panels) and the RL Lens webviews (src/webview).
 * No dependencies on `vscode` or the DOM.
 *
 * Three message kinds, discriminated by `kind`:
 *   - request   (webview → host): `{ kind: 'request', id, method, params }`, answered by exactly one
 *   - response  (host → webview): `{ kind: 'response', id, ok: true, result }` or `{ kind: 'response', id, ok: false, error }`
 *   - notification (either way, no reply): `{ kind: 'notification', method, params }`
 *
 * Handshake: the webview sends the notification `ready` once its script runs; the host queues every
 * notification until then and answers `ready` with the notification `init` (which view, which runs, the target
 * to show and the state restored by the panel serializer). Messages are never "flag bags": each method has its
 * own typed params.
 *
 * Streaming: the host never re-sends whole arrays for live runs. `metrics/append` carries only metric records
 * (and eval records) that appeared since the last one it sent for that run; `rollout/stepAdded` names a new step.
 */
import type { EvalRecord, MetricsRecord, RunStatus } from './runFormat';
import type { RolloutStep } from './rolloutStep';

export const PROTOCOL_VERSION = 1;

export type ViewKind = 'heatmap' | 'group' | 'dashboard' | 'tokenDiff';

/** A run the views can show. */
export interface RunRef {
  runDir: string;
  /** display name */
  label: string;
  algorithm?: string;
  status?: RunStatus;
  /** manifest startedAt (ISO time): the dashboard's wall-time x-axis */
  startedAt?: string;
}

/** What a view should show (also the argument shape of the rlLens.showHeatmap / showGroup commands). */
export interface ViewTarget {
  runDir: string;
  step?: number;
  group?: string;
  sample?: number;
  /** token index within the sample (pins it) */
  token?: number;
  /** heatmap: token metric to colour by (e.g. 'entropy'; ignored when the step lacks that array) */
  metric?: string;
  /** dashboard: steps to bring into view (a doctor finding's step range) */
  stepRange?: [number, number];
  /** dashboard: the curves to scroll to (metric names) */
  metrics?: string[];
  /** the doctor finding this target shows the evidence of (its id) */
  finding?: string;
}

/** A doctor finding drawn on the dashboard: a band over steps [from, to] on the charts of `metrics`
 *  (src/host/doctor/evidence.ts dashboardAnnotations). */
export interface DashboardAnnotation {
  id: string;
  severity: 'info' | 'warning' | 'error';
  title: string;
  from: number;
  to: number;
  /** metric names as the dashboard names its series (metrics.jsonl keys, eval/pass@k) */
  metrics: string[];
}

/** Webview-side persistent state (vscode.setState / panel serializer). Kept small: no data, only choices. */
export interface WebviewState {
  view: ViewKind;
  runDirs: string[];
  target?: ViewTarget;
  /** heatmap: metric name, sort key, filters, search text */
  metric?: string;
  sort?: SortSpec;
  filter?: FilterSpec;
  search?: string;
  /** heatmap: cell width in px and colour-domain percentiles ("1-99", "5-95", ...) */
  cellWidth?: number;
  percentiles?: string;
  /** dashboard: smoothing weight (0..0.99), x-domain zoom */
  smoothing?: number;
  zoom?: [number, number] | null;
  scrollTop?: number;
  /** dashboard: hidden series (metric names), metric-name filter, x-axis, panels drawn on a log scale (panel ids) */
  hidden?: string[];
  metricFilter?: string;
  xAxis?: 'step' | 'relative' | 'wall';
  logPanels?: string[];
}

/** A file the dashboard exports (a panel as CSV text or PNG bytes); the host asks where to save it. */
export type ExportFile =
  | { format: 'csv'; fileName: string; text: string }
  | { format: 'png'; fileName: string; base64: string };

/** Sort key of the heatmap rows; `part:NAME` sorts by the reward part NAME. */
export type SortKey = 'index' | 'reward' | 'advantage' | 'kl' | 'length' | 'clips' | 'truncated' | 'prompt' | `part:${string}`;
export interface SortSpec { key: SortKey; descending: boolean }
/** A numeric interval of a sample filter (webview/data/sampleFilter.ts parseRange: "0", "0.5..1", ">0", "<=10"); a
 *  missing bound is unbounded, `minOpen` / `maxOpen` exclude the bound. */
export interface NumRange { min?: number; max?: number; minOpen?: boolean; maxOpen?: boolean }
export interface FilterSpec {
  /** 'all' | only samples of filtered groups | only samples of unfiltered groups */
  groups: 'all' | 'filtered' | 'kept';
  minReward?: number;
  maxReward?: number;
  /** reward range */
  reward?: NumRange;
  /** correct (the reward part `accuracy` / `correct` > 0, else reward > 0) or not */
  correct?: boolean;
  /** sign of the sample's advantage */
  advantage?: 'pos' | 'neg' | 'zero';
  /** completion length range, in tokens */
  length?: NumRange;
  /** ended without EOS at the length limit, or not */
  truncated?: boolean;
  /** prompt or completion contains this text (case-insensitive) */
  text?: string;
  /** a reward part's value range, e.g. { name: 'format', range: { min: 0, max: 0 } } */
  part?: { name: string; range: NumRange };
}

/** What the step picker needs to know of a step without reading it (its header line). */
export interface StepInfo {
  step: number;
  /** per-token arrays stored (header.arrays non-empty): the heatmap can colour it */
  traced: boolean;
  /** samples and groups stored */
  samples: number;
  groups: number;
  /** groups / samples the step generated when trace retention kept fewer (header.totalGroups / totalSamples) */
  totalGroups?: number;
  totalSamples?: number;
  subsampled?: boolean;
}

/**
 * One rollout step as sent to a webview: the stored shape (RolloutStep, src/shared/rolloutStep.ts) with its block as
 * an ArrayBuffer for the transfer. `header.algorithm` is always set (the host fills it from the manifest when the
 * step file lacks it). The webview turns it back into a RolloutStep with `toRolloutStep`.
 */
export interface StepPayload extends Omit<RolloutStep, 'data'> {
  runDir: string;
  /** the .f32 contents (layout: src/shared/rolloutStep.ts); empty when none. The host sends an ArrayBuffer
   *  (VS Code ≥ 1.57 transfers it efficiently). */
  data: ArrayBuffer | Float32Array;
  problems: string[];
  /** set when the host tokenized samples that had text but no tokens (src/host/tokenize.ts); also in header.tokenization */
  tokenization?: TokenizationInfo;
}

/** How a step's tokens came about when the host made them (imported runs with text only). */
export interface TokenizationInfo {
  /** 'tokenizer': the run's tokenizer.json; 'approximate': a word / digit / punctuation segmentation, not the model's tokens */
  source: 'tokenizer' | 'approximate';
  approximate: boolean;
  /** the tokenizer.json used */
  tokenizer?: string;
  /** how many samples were tokenized */
  samples: number;
  /** per-token arrays filled from per-sample values (the same value on every token of a sample) */
  broadcast: string[];
  /** one line for the view's status */
  note: string;
}

/** The step a webview draws, from what the host sent (no copy of the block). */
export function toRolloutStep(p: Pick<StepPayload, 'header' | 'samples' | 'data'>): RolloutStep {
  return { header: p.header, samples: p.samples, data: toFloat32(p.data) };
}

/**
 * Windowed heatmap (issue 18): the page never receives a whole step. `rollout/overview` gives the step's records
 * without token texts, per-sample numbers and a min/max/mean strip per sample and array; `rollout/window` the
 * per-token arrays and token texts of the (sample, column block) cells it shows; `rollout/domain` a metric's colour
 * domain percentiles computed once on the host. Binary data travels as ArrayBuffers (transferred, not JSON).
 */
export interface StepOverview {
  runDir: string;
  /** `header.algorithm` always set (from the manifest when the step file lacks it) */
  header: RolloutStep['header'];
  /** the samples' records with `tokens` left empty (texts come per window); `length` is the token count */
  samples: RolloutStep['samples'];
  /** per sample: [mean advantage over the mask, mean KL over the mask, clip low, clip high, clip dual] (NaN = none) */
  numbers: number[][];
  /** stored arrays holding at least one finite value */
  withData: string[];
  /** tokens per column block of `rollout/window` */
  blockTokens: number;
  /** samples whose prompt or completion was cut to `textCut` characters here (the full texts stay on the host: the
   *  text filter asks `rollout/textMatch` when any was cut) */
  cut?: number[];
  textCut?: number;
  /** Float32 [sample][array (header.arrays order)][min, max, mean] over the sample's finite values: a minimap strip
   *  (only when asked for: `rollout/overview` with `strips: true`; one pass over the whole block on the host) */
  strips?: ArrayBuffer | Float32Array;
  /** bytes of per-token data the step stores (the .f32 block) */
  dataBytes: number;
  problems: string[];
  tokenization?: TokenizationInfo;
}

/** The drill-down of one token (the shape of webview/data/drilldown.ts DrillDown, declared here so the protocol
 *  imports no view code). */
export interface DrillDownResult {
  kind: 'ppo' | 'group' | 'dpo' | 'token' | 'gigpo' | 'tree';
  title: string;
  lines: { label: string; value: number | string; note?: string }[];
  terms?: { position: number; weight: number; delta: number; contribution: number }[];
  group?: { sample: number; reward: number; advantage: number; self: boolean }[];
  /** further tables (GiGPO's step group, a rollout tree's leaves, the trajectories sharing a token) */
  tables?: { id: string; title: string; columns: string[]; rows: (number | string)[][]; self?: number[] }[];
  checks: { label: string; computed: number; stored: number; ok: boolean }[];
}

/** Cells of a window: pairs of [sample, column block] (block b covers tokens [b·blockTokens, (b+1)·blockTokens)). */
export interface StepWindowParams { runDir: string; step: number; cells: [number, number][] }
/** For each cell in request order: header.arrays.length × n floats (array-major, n = tokens of the block in the
 *  sample, 0 past its end) back to back in `data`, and its token texts in `tokens`. */
export interface StepWindow { data: ArrayBuffer | Float32Array; tokens: string[][] }

/** A metric's colour-domain statistics over a step's valid tokens (or one group's): see webview/data/scales.ts DomainStats. */
export interface StepDomain { metric: string; group?: string; count: number; rawMin: number; rawMax: number; q: Record<string, number> }

/** `metrics/columns`: a run's metrics as the dashboard stores them (webview/data/series.ts SeriesStore, built on the
 *  host), one binary transfer instead of every record as JSON (issue 18). Later records stream as `metrics/append`. */
export interface MetricsColumnsPayload {
  run: RunRef;
  rolloutSteps: number[];
  names: string[];
  lengths: number[];
  /** series k shares the steps of series stepsOf[k] (-1: its own, next in `steps`) */
  stepsOf: number[];
  /** Float64 */
  steps: ArrayBuffer | Float64Array;
  values: ArrayBuffer | Float64Array;
  /** Float64: clock steps then times (clockLength each) */
  clock: ArrayBuffer | Float64Array;
  clockLength: number;
  appended: number;
  /** a run with many points (issue 18): `steps` and `values` are empty; the series' first / last step, and the
   *  window the page asked for (`windowData`: its views, dashboardWindow.ts packViews). Later windows: `metrics/window`. */
  bucketed?: { minStep: number; maxStep: number; window: MetricsWindowInfo };
  windowData?: ArrayBuffer | Float64Array;
  /** how long the host took to build this answer, ms (benchmarks: the rest of the request is the message's way) */
  hostMs?: number;
}

/** The dashboard's x-range (axis units, default: every step), plot width, smoothing and x-axis of a `metrics/window`. */
export interface MetricsWindowParams {
  x0?: number; x1?: number;
  pixels: number;
  smoothing: number;
  xMode: 'step' | 'relative' | 'wall';
  /** run start, seconds since the epoch (wall-time axis) */
  startSec?: number;
}

/** A window's series (names in `data` order) and the range it covers. */
export interface MetricsWindowInfo { names: string[]; x0: number; x1: number; pixels: number; smoothing: number; xMode: 'step' | 'relative' | 'wall' }

/** `metrics/window`: per-pixel buckets of every series of a run (dashboardWindow.ts seriesView), Float64 in `data`. */
export interface MetricsWindowPayload extends MetricsWindowInfo { runDir: string; data: ArrayBuffer | Float64Array }

/** `metrics/at`: each series' point nearest to x (the hover box), raw or smoothed as drawn. */
export interface MetricsAtRow { name: string; step: number; x: number; value: number }

export interface MetricsPayload {
  run: RunRef;
  records: MetricsRecord[];
  evals: EvalRecord[];
  /** steps that have rollouts (for click-through) */
  rolloutSteps: number[];
}

export interface InitParams {
  protocol: number;
  view: ViewKind;
  runs: RunRef[];
  target?: ViewTarget;
  /** state saved by the webview before a reload (panel serializer), if any */
  state?: WebviewState;
}

/**
 * Requests (webview → host), declared once: method → params / result. The webview calls
 * `HostConnection.request(method, params)` (src/webview/rpc.ts) and gets `Promise<result>`; the host answers with a
 * `WebviewRequestHandlers` table (src/host/ui/panels/requests.ts), one handler per method (a missing one does not compile).
 */
export interface WebviewRequests {
  'runs/list': { params: Record<string, never>; result: RunRef[] };
  'rollout/listSteps': { params: { runDir: string }; result: number[] };
  /** every rollout step with what its header says (per-token traces or text only, counts); also starts following */
  'rollout/stepInfo': { params: { runDir: string }; result: StepInfo[] };
  'rollout/getStep': { params: { runDir: string; step: number }; result: StepPayload };
  /** windowed heatmap (issue 18): a step's records and per-sample numbers, no per-token data */
  'rollout/overview': { params: { runDir: string; step: number; strips?: boolean }; result: StepOverview };
  /** windowed heatmap: per-token arrays and token texts of some (sample, column block) cells */
  'rollout/window': { params: StepWindowParams; result: StepWindow };
  /** windowed heatmap: the colour-domain percentiles of a metric over the step (or one group), computed on the host */
  'rollout/domain': { params: { runDir: string; step: number; metric: string; group?: string }; result: StepDomain };
  /** windowed heatmap: token text search over a step's samples; hits as flat [sample, token, sample, token, …] */
  'rollout/search': { params: { runDir: string; step: number; query: string }; result: { hits: number[]; truncated: boolean } };
  /** windowed heatmap: the samples whose prompt or completion contains `text` (case-insensitive), over the full texts */
  'rollout/textMatch': { params: { runDir: string; step: number; text: string }; result: { samples: number[] } };
  /** windowed heatmap: the credit drill-down of one token, computed on the host (webview/data/drilldown.ts) */
  'rollout/drill': { params: { runDir: string; step: number; sample: number; token: number }; result: DrillDownResult };
  'metrics/get': { params: { runDir: string }; result: MetricsPayload };
  /** the dashboard's first load: metrics/get as columns (the host builds the series; binary, not JSON records) */
  'metrics/columns': { params: { runDir: string; window?: MetricsWindowParams }; result: MetricsColumnsPayload };
  /** a bucketed run's charts at another x-range / width / smoothing / x-axis (zoom, pan, resize, live appends) */
  'metrics/window': { params: { runDir: string } & MetricsWindowParams; result: MetricsWindowPayload };
  /** a bucketed run's hover values: each named series' point nearest to x */
  'metrics/at': { params: { runDir: string; x: number; names: string[]; smoothing: number; xMode: 'step' | 'relative' | 'wall'; startSec?: number }; result: MetricsAtRow[] };
  /** a bucketed run's named series whole (CSV export), as columns */
  'metrics/series': { params: { runDir: string; names: string[] }; result: MetricsColumnsPayload };
  /** dashboard: save a panel export (CSV / PNG) through a save dialog; `path` undefined when the user cancelled */
  'export/save': { params: ExportFile; result: { path?: string } };
  /** write samples of a step as JSONL to a file the user picks (save dialog); `path` undefined when cancelled */
  'samples/export': { params: { runDir: string; step: number; samples: number[] }; result: { path?: string; count: number } };
  /** token comparison view (issue 21): the comparison's header, risers / fallers and per-sample rows (no per-token data) */
  'tokenDiff/summary': { params: Record<string, never>; result: TokenDiffOverview };
  /** token comparison view: the per-token data of some samples (the rows on screen), floats as one ArrayBuffer */
  'tokenDiff/samples': { params: { samples: number[] }; result: TokenDiffPage };
}

/** One side of a token comparison as the view shows it. */
export interface TokenDiffSideInfo { label: string; dir: string; step: number; kind: 'checkpoint' | 'base' }

/** A token and its mean Δ log-prob over the set (summary.json risers / fallers). */
export interface TokenDiffStatRow { token: string; count: number; meanDelta: number; sumDelta: number }

/** One completion's numbers (the per-sample summary table). */
export interface TokenDiffSampleRow {
  index: number;
  length: number;
  sumDelta: number;
  meanKl: number;
  truncated?: boolean;
  reward?: number | null;
  group?: string;
  /** the start of the prompt / completion (for the table and the text filter; ≤ 200 characters each) */
  prompt: string;
  completion: string;
}

/** `tokenDiff/summary`: what the view shows before any per-token data. */
export interface TokenDiffOverview {
  /** the comparison folder (the view saves it in its state, so a reloaded window reopens it) */
  dir: string;
  title: string;
  a: TokenDiffSideInfo;
  b: TokenDiffSideInfo;
  source: string;
  counts: { samples: number; tokens: number; truncated: number };
  settings: { topK: number; temperature: number; minCount: number };
  meanDelta: number;
  meanKl: number;
  risers: TokenDiffStatRow[];
  fallers: TokenDiffStatRow[];
  samples: TokenDiffSampleRow[];
  /** names and widths of the per-token arrays, in the order of TokenDiffPage.data */
  arrays: { name: string; width: number }[];
  seconds?: number;
  /** colour-domain statistics of each colour metric (DIFF_METRICS id) over every token of the comparison, computed once
   *  by the host: the view colours every page and filter with the same domain */
  domains?: Record<string, { count: number; rawMin: number; rawMax: number; q: Record<string, number> }>;
  /** a rollout step stored only part of what it generated (trace retention): the step's totals */
  stored?: { totalSamples?: number; groups?: number; totalGroups?: number };
  /** short name of the completions for tab titles: "step 12 rollouts" or the JSONL file name */
  sourceShort?: string;
}

/** `tokenDiff/samples`: per sample its tokens and its block of floats (arrays in order, width × length each). */
export interface TokenDiffPage {
  samples: { index: number; length: number; tokens: string[]; tokenIds: number[]; prompt: string; completion: string; offset: number }[];
  /** the samples' blocks, one after another (float offsets relative to this buffer in samples[i].offset) */
  data: ArrayBuffer | Float32Array;
  /** display strings of the ids in the top-k lists */
  vocab: Record<string, string>;
}

/** Notifications the webview sends. */
export interface WebviewNotificationMap {
  ready: { view: ViewKind; protocol: number };
  /** user selection changed: the host forwards it to the Runs tree */
  'selection/changed': ViewTarget;
  /** dashboard click-through and group/heatmap cross-links */
  'open/heatmap': ViewTarget;
  'open/group': ViewTarget;
  /** the webview saved its state (host keeps a copy for the serializer / title) */
  'state/changed': WebviewState;
  /** something went wrong in the webview; host logs it */
  'log/error': { message: string };
  /** the dashboard's own run picker changed the overlaid runs (the host follows them, titles the tab, sends annotations) */
  'dashboard/runs': { runDirs: string[] };
}

/** Notifications the host sends. */
export interface HostNotificationMap {
  init: InitParams;
  /** navigate an open view (command invoked while the panel exists) */
  'view/show': ViewTarget;
  /** only the new metric / eval records of a live run */
  'metrics/append': { runDir: string; records: MetricsRecord[]; evals: EvalRecord[]; status?: RunStatus };
  'rollout/stepAdded': { runDir: string; step: number };
  /** the runs shown by the dashboard changed (overlay added/removed) */
  'runs/set': { runs: RunRef[] };
  /** the doctor's findings of a run as dashboard annotations (all of them: replaces what was sent before for that run) */
  'doctor/annotations': { runDir: string; annotations: DashboardAnnotation[] };
}

export type RequestMethod = keyof WebviewRequests;
export type Params<M extends RequestMethod> = WebviewRequests[M]['params'];
export type Result<M extends RequestMethod> = WebviewRequests[M]['result'];

/** The host's answers: one handler per request method, each returning that method's result. */
export type WebviewRequestHandlers = { [M in RequestMethod]: (params: Params<M>) => Result<M> | Promise<Result<M>> };

/** A request of method M (default: any method, as a union). */
export type RequestMessage<M extends RequestMethod = RequestMethod> = { [K in M]: { kind: 'request'; id: number; method: K; params: Params<K> } }[M];
/** The answer to a request of method M (responses carry only the id: the webview knows M from its pending request). */
export type ResponseMessage<M extends RequestMethod = RequestMethod> =
  | { kind: 'response'; id: number; ok: true; result: Result<M> }
  | { kind: 'response'; id: number; ok: false; error: string };
export type WebviewNotification = { [M in keyof WebviewNotificationMap]: { kind: 'notification'; method: M; params: WebviewNotificationMap[M] } }[keyof WebviewNotificationMap];
export type HostNotification = { [M in keyof HostNotificationMap]: { kind: 'notification'; method: M; params: HostNotificationMap[M] } }[keyof HostNotificationMap];

/** Everything a webview may post to the host. */
export type WebviewToHost = RequestMessage | WebviewNotification;
/** Everything the host may post to a webview. */
export type HostToWebview = ResponseMessage | HostNotification;

// The method names at run time (envelope validation). Records keyed by the maps above, so a name missing here or
// not declared there fails to compile: the maps stay the one declaration.
const REQUEST_NAMES: Record<RequestMethod, true> = { 'runs/list': true, 'rollout/listSteps': true, 'rollout/stepInfo': true, 'rollout/getStep': true, 'rollout/overview': true, 'rollout/window': true, 'rollout/domain': true, 'rollout/search': true, 'rollout/textMatch': true, 'rollout/drill': true, 'metrics/get': true, 'metrics/columns': true, 'metrics/window': true, 'metrics/at': true, 'metrics/series': true, 'samples/export': true, 'export/save': true, 'tokenDiff/summary': true, 'tokenDiff/samples': true };
const WEBVIEW_NOTIFICATION_NAMES: Record<keyof WebviewNotificationMap, true> = { ready: true, 'selection/changed': true, 'open/heatmap': true, 'open/group': true, 'state/changed': true, 'log/error': true, 'dashboard/runs': true };
const HOST_NOTIFICATION_NAMES: Record<keyof HostNotificationMap, true> = { init: true, 'view/show': true, 'metrics/append': true, 'rollout/stepAdded': true, 'runs/set': true, 'doctor/annotations': true };
/** Every request method, as declared by WebviewRequests. */
export const REQUEST_METHODS = Object.keys(REQUEST_NAMES) as readonly RequestMethod[];
const REQUEST_SET: ReadonlySet<string> = new Set(REQUEST_METHODS);
const WEBVIEW_NOTIFICATIONS: ReadonlySet<string> = new Set(Object.keys(WEBVIEW_NOTIFICATION_NAMES));
const HOST_NOTIFICATIONS: ReadonlySet<string> = new Set(Object.keys(HOST_NOTIFICATION_NAMES));

/** Normalise StepPayload.data to a Float32Array (no copy). */
export function toFloat32(d: ArrayBuffer | Float32Array | undefined): Float32Array {
  if (!d) return new Float32Array(0);
  if (d instanceof Float32Array) return d;
  return new Float32Array(d, 0, Math.floor(d.byteLength / 4));
}

function isObj(x: unknown): x is Record<string, unknown> { return typeof x === 'object' && x !== null; }

/** Host side: validate the envelope of a message from a webview (a webview is less trusted than the host). */
export function parseWebviewMessage(msg: unknown): WebviewToHost | { error: string } {
  if (!isObj(msg)) return { error: 'message is not an object' };
  if (msg.kind === 'request') {
    if (typeof msg.id !== 'number' || !Number.isInteger(msg.id)) return { error: 'request without integer id' };
    if (typeof msg.method !== 'string' || !REQUEST_SET.has(msg.method)) return { error: `unknown request method ${JSON.stringify(msg.method)}` };
    if (!isObj(msg.params)) return { error: `request ${msg.method}: params must be an object` };
    return msg as unknown as RequestMessage;
  }
  if (msg.kind === 'notification') {
    if (typeof msg.method !== 'string' || !WEBVIEW_NOTIFICATIONS.has(msg.method)) return { error: `unknown notification ${JSON.stringify(msg.method)}` };
    if (!isObj(msg.params)) return { error: `notification ${msg.method}: params must be an object` };
    return msg as unknown as WebviewNotification;
  }
  return { error: `unknown message kind ${JSON.stringify(msg.kind)}` };
}

/** Webview side: validate the envelope of a message from the host. */
export function parseHostMessage(msg: unknown): HostToWebview | { error: string } {
  if (!isObj(msg)) return { error: 'message is not an object' };
  if (msg.kind === 'response') {
    if (typeof msg.id !== 'number') return { error: 'response without id' };
    return msg as unknown as ResponseMessage;
  }
  if (msg.kind === 'notification' && typeof msg.method === 'string' && HOST_NOTIFICATIONS.has(msg.method)) {
    if (msg.method === 'doctor/annotations') { const e = annotationsError(msg.params); if (e) return { error: `doctor/annotations: ${e}` }; }
    return msg as unknown as HostNotification;
  }
  return { error: `unknown host message ${JSON.stringify(isObj(msg) ? msg.method ?? msg.kind : msg)}` };
}

const SEVERITIES: ReadonlySet<string> = new Set(['info', 'warning', 'error']);

/** Why `doctor/annotations` params are malformed (undefined when valid). */
export function annotationsError(p: unknown): string | undefined {
  if (!isObj(p)) return 'params must be an object';
  if (typeof p.runDir !== 'string') return 'params.runDir must be a string';
  if (!Array.isArray(p.annotations)) return 'params.annotations must be an array';
  for (const [i, a] of p.annotations.entries()) {
    const at = `annotations[${i}]`;
    if (!isObj(a)) return `${at} must be an object`;
    if (typeof a.id !== 'string' || typeof a.title !== 'string') return `${at}: id and title must be strings`;
    if (typeof a.severity !== 'string' || !SEVERITIES.has(a.severity)) return `${at}.severity must be info, warning or error (got ${JSON.stringify(a.severity)})`;
    if (typeof a.from !== 'number' || typeof a.to !== 'number' || !Number.isFinite(a.from) || !Number.isFinite(a.to) || a.from > a.to) return `${at}: from/to must be finite steps with from ≤ to (got ${JSON.stringify(a.from)}, ${JSON.stringify(a.to)})`;
    if (!Array.isArray(a.metrics) || !a.metrics.every((m) => typeof m === 'string')) return `${at}.metrics must be an array of metric names`;
  }
  return undefined;
}
