import { describe, expect, it } from "vitest";
import { ConnectionLog } from "../src/connection-log.ts";
import { recordingLogger } from "./helpers.ts";

describe("ConnectionLog", () => {
  it("logs the first failed attempts, then only at powers of two", () => {
    const logger = recordingLogger();
    const log = new ConnectionLog("redis", logger);
    for (let i = 0; i < 40; i++) log.failed(new Error("connect ECONNREFUSED"));
    expect(logger.entries.map((e) => e.obj.attempt)).toEqual([1, 2, 3, 4, 8, 16, 32]);
    expect(log.lastError).toEqual(new Error("connect ECONNREFUSED"));
  });

  it("reports a restored connection with the number of failed attempts", () => {
    const logger = recordingLogger();
    const log = new ConnectionLog("redis", logger);
    for (let i = 0; i < 5; i++) log.failed(new Error("down"));
    log.ready();
    expect(logger.entries.at(-1)).toMatchObject({
      level: "info",
      msg: "redis connection restored",
      obj: { failedAttempts: 5 },
    });
    expect(log.lastError).toBeUndefined();
  });

  it("reports a lost connection once, whether an error or only a close announces it", () => {
    const logger = recordingLogger();
    const log = new ConnectionLog("redis", logger);
    log.ready();
    log.failed(new Error("read ECONNRESET"));
    log.closed();
    log.ready();
    log.closed();
    expect(logger.entries.map((e) => [e.level, e.msg])).toEqual([
      ["info", "redis connected"],
      ["warn", "redis connection lost, reconnecting"],
      ["info", "redis connection restored"],
      ["warn", "redis connection lost, reconnecting"],
    ]);
  });

  it("stays quiet about failures while stopping", () => {
    const logger = recordingLogger();
    const log = new ConnectionLog("redis", logger);
    log.ready();
    log.stopping();
    log.failed(new Error("Connection is closed."));
    log.closed();
    expect(logger.entries.map((e) => [e.level, e.msg])).toEqual([
      ["info", "redis connected"],
      ["info", "redis connection closed"],
    ]);
  });
});
