/** Driving a step generator (one `yield` per optimizer step) synchronously, or yielding to the event loop between steps. */
export interface TrainResult { before: Record<string, number>; after: Record<string, number>; steps: number }

export function drainSteps<R>(it: Generator<number, R>): R {
  for (let x = it.next(); ; x = it.next()) if (x.done) return x.value;
}

/** `yieldFn`: the engine's ctx.yield, so SIGTERM and stop requests are seen between steps. */
export async function drainStepsAsync<R>(it: Generator<number, R>, yieldFn: () => Promise<void>): Promise<R> {
  for (let x = it.next(); ; x = it.next()) { if (x.done) return x.value; await yieldFn(); }
}
