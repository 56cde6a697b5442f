import { describe, expect, it } from "vitest";
import { isTransientRedisError, RedisNotConnectedError, reconnectDelayMs } from "../src/index.ts";
import { withPassword } from "../src/redis-client.ts";

const withCode = (code: string, message = "socket error") =>
  Object.assign(new Error(message), { code });
const named = (name: string, message: string) => Object.assign(new Error(message), { name });

describe("isTransientRedisError", () => {
  it.each([
    ["not connected", new RedisNotConnectedError("reconnecting", undefined)],
    ["connection refused", withCode("ECONNREFUSED")],
    ["closed", new Error("Connection is closed.")],
    [
      "offline queue disabled",
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
    ],
    ["command timeout", new Error("Command timed out")],
    [
      "max retries",
      named("MaxRetriesPerRequestError", "Reached the max retries per request limit"),
    ],
    ["loading", new Error("LOADING Redis is loading the dataset in memory")],
    ["failover", new Error("READONLY You can't write against a read only replica.")],
    ["dual-stack refusal", new AggregateError([withCode("ECONNREFUSED")])],
  ])("%s is transient", (_, err) => {
    expect(isTransientRedisError(err)).toBe(true);
  });

  it.each([
    ["wrong type", new Error("WRONGTYPE Operation against a key holding the wrong kind of value")],
    ["script error", new Error("ERR Error running script")],
    ["not an error", "ECONNRESET"],
  ])("%s is not", (_, err) => {
    expect(isTransientRedisError(err)).toBe(false);
  });
});

describe("reconnectDelayMs", () => {
  it("grows exponentially, with jitter, and is capped at 5 s forever", () => {
    for (const attempt of [1, 2, 3, 10, 1_000]) {
      const ceiling = Math.min(100 * 2 ** (attempt - 1), 5_000);
      const delay = reconnectDelayMs(attempt);
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delay).toBeLessThanOrEqual(ceiling);
    }
  });
});

describe("withPassword", () => {
  it("puts a secret into the URL so that it survives URL parsing", () => {
    const secret = "p@ss:w/o%rd#?";
    const url = new URL(withPassword("redis://default:old@cache:6379/0", secret));
    expect(decodeURIComponent(url.password)).toBe(secret);
    expect(url.username).toBe("default");
  });
});
