/**
 * The host's answers to webview requests (src/shared/protocol.ts WebviewRequests), one typed handler per method.
 * No `vscode` import: LensPanel (panel.ts) supplies the context, unit tests a fake one.
 */
import type { MetricsPayload, RequestMessage, RequestMethod, ResponseMessage, RunRef, WebviewRequestHandlers } from '../../../shared/protocol';
import { listRolloutSteps } from '../../../runio/reader';
import { getStep } from './dataProvider';

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
    'rollout/getStep': async ({ runDir, step }) => getStep(await ctx.allowedRun(runDir), step),
    'metrics/get': async ({ runDir }) => ctx.followMetrics(await ctx.allowedRun(runDir)),
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
