import { describe, expect, it } from "vitest";
import { abandonOnAbort } from "../src/index.ts";

describe("abandonOnAbort", () => {
  it("settles like the work when the work settles first", async () => {
    const signal = new AbortController().signal;
    await expect(abandonOnAbort(Promise.resolve("pong"), signal)).resolves.toBe("pong");
    const failure = new Error("refused");
    await expect(abandonOnAbort(Promise.reject(failure), signal)).rejects.toBe(failure);
  });

  it("rejects with the abort reason and swallows the work's late failure", async () => {
    const controller = new AbortController();
    const work = Promise.withResolvers<string>();
    const waiting = abandonOnAbort(work.promise, controller.signal);
    const reason = new Error("deadline");
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    // Would fail the run as an unhandled rejection if it were not swallowed.
    work.reject(new Error("too late"));
    await work.promise.catch(() => undefined);
  });

  it("rejects at once when the signal has already aborted", async () => {
    const reason = new Error("gone");
    await expect(abandonOnAbort(new Promise(() => {}), AbortSignal.abort(reason))).rejects.toBe(
      reason,
    );
  });
});
