export { recordingLogger } from "@kindred/testing";

import type { Redis } from "ioredis";

/** Resolves on the client's next `event` (`reconnecting`, `close`, ...). */
export function nextEvent(redis: Redis, event: string): Promise<void> {
  return new Promise((resolve) => redis.once(event, () => resolve()));
}

/** Collects unhandled rejections and uncaught exceptions while a test runs. */
export function watchUnhandled(): { errors: unknown[]; stop(): void } {
  const errors: unknown[] = [];
  const record = (err: unknown) => errors.push(err);
  process.on("unhandledRejection", record);
  process.on("uncaughtException", record);
  return {
    errors,
    stop() {
      process.off("unhandledRejection", record);
      process.off("uncaughtException", record);
    },
  };
}
