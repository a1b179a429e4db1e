/**
 * The host's answers to webview requests (src/shared/protocol.ts WebviewRequests), one typed handler per method.
 * No `vscode` import: LensPanel (panel.ts) supplies the context, unit tests a fake one.
 */
import type { MetricsPayload, RequestMessage, RequestMethod, ResponseMessage, RunRef, WebviewRequestHandlers } from '../../../shared/protocol';
import * as path from 'path';
import { listRolloutSteps, readRolloutStep } from '../../../runio/reader';
import { getStep, stepInfos } from './dataProvider';
import { exportRecords, toJsonl } from './exportSamples';
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
    'metrics/get': async ({ runDir }) => ctx.followMetrics(await ctx.allowedRun(runDir)),
    'export/save': async (file) => ({ path: await ctx.saveExport(checkExport(file)) }),
    'samples/export': async ({ runDir, step, samples }) => {
      const dir = await ctx.allowedRun(runDir);
      if (!Number.isInteger(step) || step < 0) throw new Error(`step must be a non-negative integer, got ${JSON.stringify(step)}`);
      if (!Array.isArray(samples)) throw new Error('samples must be an array of sample indices');
      const records = exportRecords(path.basename(dir), readRolloutStep(dir, step), samples);
      const file = await ctx.saveFile(`${path.basename(dir)}-step${step}-samples.jsonl`, toJsonl(records));
      return { path: file, count: records.length };
    },
  };
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
