/**
 * Stops waiting for `work` when `signal` aborts, rejecting with the signal's reason; `work`
 * itself runs on (a client library without AbortSignal support cannot be stopped), and its
 * late failure is swallowed instead of becoming an unhandled rejection. For probes and calls
 * where an answer that comes too late is worth nothing.
 */
export function abandonOnAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  work.catch(() => {});
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
