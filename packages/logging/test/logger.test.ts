import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, withLogContext } from "../src/index.ts";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      callback();
    },
  });
  return { lines, logger: createLogger({ service: "identity", level: "debug", destination }) };
}

describe("createLogger", () => {
  it("writes JSON with service, level name and ISO time", () => {
    const { lines, logger } = capture();
    logger.info({ userId: "u1" }, "signed in");
    expect(lines[0]).toMatchObject({
      service: "identity",
      level: "info",
      msg: "signed in",
      userId: "u1",
    });
    expect(String(lines[0]?.time)).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("adds the request and correlation id of the current context to every line", async () => {
    const { lines, logger } = capture();
    await withLogContext({ requestId: "req-1", correlationId: "corr-1" }, async () => {
      logger.info("first");
      await Promise.resolve();
      logger.child({ component: "db" }).warn("second");
    });
    logger.info("outside");
    expect(lines[0]).toMatchObject({ requestId: "req-1", correlationId: "corr-1" });
    expect(lines[1]).toMatchObject({
      requestId: "req-1",
      correlationId: "corr-1",
      component: "db",
    });
    expect(lines[2]).not.toHaveProperty("requestId");
  });

  it("redacts secrets and tokens at any of the first three levels", () => {
    const { lines, logger } = capture();
    logger.info(
      {
        password: "p1",
        refreshToken: "r1",
        req: { headers: { authorization: "Bearer abc", cookie: "sid=1", "x-request-id": "id" } },
        body: { credentials: { newPassword: "p2" } },
      },
      "request",
    );
    const text = JSON.stringify(lines[0]);
    for (const secret of ["p1", "r1", "Bearer abc", "sid=1", "p2"])
      expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({
      password: "[redacted]",
      req: { headers: { authorization: "[redacted]", "x-request-id": "id" } },
    });
  });
});
