/**
 * The host's answers to webview requests (src/shared/protocol.ts WebviewRequests), one typed handler per method.
 * No `vscode` import: LensPanel (panel.ts) supplies the context, unit tests a fake one.
 */
import type { MetricsColumnsPayload, MetricsPayload, MetricsWindowParams, RequestMessage, RequestMethod, ResponseMessage, RunRef, WebviewRequestHandlers } from '../../../shared/protocol';
import * as path from 'path';
import { listRolloutSteps, readRolloutStep } from '../../../runio/reader';
import { getStep, stepInfos } from './dataProvider';
import { exportRecords, toJsonl } from './exportSamples';
import { stepSource } from './stepSource';
import { columnsPayload, metricsColumns, runRef } from './dataProvider';
import type { MetricsSource } from './metricsWindow';
import { checkExport, type CheckedExport } from './exportFile';

/** What the handlers need from the panel that received the request. */
export interface RequestContext {
  /** the runs the Runs tree knows */
  listRuns(): Promise<RunRef[]>;
  /** the absolute run folder a webview named, if this view may read it (throws otherwise) */
  allowedRun(runDir: string): Promise<string>;
  /** start following a run live (new steps → `rollout/stepAdded`) */
  follow(runDir: string): void;
  /** follow a run's metrics from the start: everything so far (later records stream as `metrics/append`) */
  followMetrics(absRunDir: string): MetricsPayload;
  /** followMetrics as the dashboard's columns (through the run folder's columns cache); metricsColumns(followMetrics) when absent */
  followColumns?(absRunDir: string, window?: MetricsWindowParams): MetricsColumnsPayload;
  /** the series of a followed run for `metrics/window | at | series` (metricsWindow.ts; read when not followed yet) */
  metricsSource?(absRunDir: string): MetricsSource;
  /** ask where to save `content` (a save dialog offering `defaultName`) and write it; the path, or undefined when cancelled */
  saveFile(defaultName: string, content: string): Promise<string | undefined>;
  /** dashboard export: ask where to save the checked file (save dialog) and write it; the path, or undefined when cancelled */
  saveExport(file: CheckedExport): Promise<string | undefined>;
}

/** The handler table: an object literal of WebviewRequestHandlers, so a request method without a handler does not compile. */
export function webviewRequestHandlers(ctx: RequestContext): WebviewRequestHandlers {
  return {
    'runs/list': () => ctx.listRuns(),
    'rollout/listSteps': async ({ runDir }) => {
      const steps = listRolloutSteps(await ctx.allowedRun(runDir));
      ctx.follow(runDir);
      return steps;
    },
    'rollout/stepInfo': async ({ runDir }) => {
      const infos = stepInfos(await ctx.allowedRun(runDir));
      ctx.follow(runDir);
      return infos;
    },
    'rollout/getStep': async ({ runDir, step }) => getStep(await ctx.allowedRun(runDir), step),
    // windowed heatmap (issue 18, stepSource.ts): byte ranges of the step, never the whole step
    'rollout/overview': async ({ runDir, step, strips }) => stepSource(await ctx.allowedRun(runDir), step).overview({ strips: strips === true }),
    'rollout/window': async ({ runDir, step, cells }) => stepSource(await ctx.allowedRun(runDir), step).window(cells),
    'rollout/domain': async ({ runDir, step, metric, group }) => stepSource(await ctx.allowedRun(runDir), step).domain(String(metric), typeof group === 'string' ? group : undefined),
    'rollout/search': async ({ runDir, step, query }) => stepSource(await ctx.allowedRun(runDir), step).search(query),
    'rollout/textMatch': async ({ runDir, step, text }) => stepSource(await ctx.allowedRun(runDir), step).textMatch(text),
    'rollout/drill': async ({ runDir, step, sample, token }) => stepSource(await ctx.allowedRun(runDir), step).drill(sample, token),
    'metrics/get': async ({ runDir }) => ctx.followMetrics(await ctx.allowedRun(runDir)),
    'metrics/columns': async ({ runDir, window }) => { const d = await ctx.allowedRun(runDir); return ctx.followColumns ? ctx.followColumns(d, window) : metricsColumns(ctx.followMetrics(d)); },
    // a bucketed dashboard (issue 18, metricsWindow.ts): what the charts draw, the hover values, whole series for CSV
    'metrics/window': async ({ runDir, ...w }) => { const d = await ctx.allowedRun(runDir); return sourceOf(ctx, d).window(runDir, w); },
    'metrics/at': async ({ runDir, x, names, smoothing, xMode, startSec }) => sourceOf(ctx, await ctx.allowedRun(runDir)).at(x, names, smoothing, xMode, startSec),
    'metrics/series': async ({ runDir, names }) => { const d = await ctx.allowedRun(runDir); return columnsPayload(runRef(d), [], sourceOf(ctx, d).series(names)); },
    'export/save': async (file) => ({ path: await ctx.saveExport(checkExport(file)) }),
    'samples/export': async ({ runDir, step, samples }) => {
      const dir = await ctx.allowedRun(runDir);
      if (!Number.isInteger(step) || step < 0) throw new Error(`step must be a non-negative integer, got ${JSON.stringify(step)}`);
      if (!Array.isArray(samples)) throw new Error('samples must be an array of sample indices');
      const records = exportRecords(path.basename(dir), readRolloutStep(dir, step), samples);
      const file = await ctx.saveFile(`${path.basename(dir)}-step${step}-samples.jsonl`, toJsonl(records));
      return { path: file, count: records.length };
    },
    // the token comparison view has its own panel (src/host/tokenDiff/panel.ts), which answers these
    'tokenDiff/summary': () => { throw new Error('not a token comparison view'); },
    'tokenDiff/samples': () => { throw new Error('not a token comparison view'); },
  };
}

function sourceOf(ctx: RequestContext, dir: string): MetricsSource {
  if (!ctx.metricsSource) throw new Error('this view has no bucketed metrics');
  return ctx.metricsSource(dir);
}

/** Run the handler of `msg.method`; a thrown error becomes an `ok: false` response with its message. */
export async function answerRequest<M extends RequestMethod>(handlers: WebviewRequestHandlers, msg: RequestMessage<M>): Promise<ResponseMessage<M>> {
  try {
    const handler: WebviewRequestHandlers[M] = handlers[msg.method];
    const result = await handler(msg.params);
    return { kind: 'response', id: msg.id, ok: true, result };
  } catch (e) {
    return { kind: 'response', id: msg.id, ok: false, error: String((e as Error)?.message ?? e) };
  }
}
