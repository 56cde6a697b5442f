/** What a closed-loop run did: its calls' latencies (ms, in completion order) and its duration. */
export interface Timed {
  ops: number;
  seconds: number;
  latencies: Float64Array;
  /** The time limit stopped it before `count` calls. */
  cut: boolean;
}

export interface LoadShape {
  count: number;
  concurrency: number;
  maxSeconds: number;
}

/**
 * Closed loop: `concurrency` workers each call `op` again as soon as their previous call
 * returned, until `count` calls were made or `maxSeconds` passed. The first failure stops every
 * worker and is thrown: a run with errors measures nothing.
 */
export async function closedLoop(
  op: (worker: number) => Promise<void>,
  { count, concurrency, maxSeconds }: LoadShape,
): Promise<Timed> {
  const latencies = new Float64Array(count);
  let issued = 0;
  let done = 0;
  let failure: { error: unknown } | undefined;
  const started = performance.now();
  const deadline = started + maxSeconds * 1_000;
  const worker = async (w: number) => {
    while (failure === undefined && issued < count && performance.now() < deadline) {
      issued++;
      const t0 = performance.now();
      try {
        await op(w);
      } catch (error) {
        failure ??= { error };
        return;
      }
      latencies[done++] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, (_, w) => worker(w)));
  const seconds = (performance.now() - started) / 1_000;
  if (failure !== undefined) throw failure.error;
  return { ops: done, seconds, latencies: latencies.slice(0, done), cut: done < count };
}
