import { jetstream } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { type RawEvent, rawEvent } from "./fixture.ts";
import { InFlight } from "./in-flight.ts";
import type { World } from "./world.ts";

/**
 * How the publisher keeps `window` publishes in flight: `sliding` sends the next message as soon
 * as any ack returns; `waves` sends `window` messages, waits for all their acks, and repeats
 * (what the relay does with one batch).
 */
export type PublishMode = "sliding" | "waves";

/**
 * The limit: `count` PostCreated messages (same payload, headers and `Nats-Msg-Id` as the
 * relay sends) published with JetStream's async publish, at most `window` awaiting their ack,
 * into a fresh stream. Messages are built before the clock starts; the NATS header block is
 * built per publish, as the relay does. Returns acknowledged messages per second.
 */
export async function rawPublish(
  world: World,
  count: number,
  window: number,
  mode: PublishMode,
): Promise<number> {
  await world.freshStream();
  const events = Array.from({ length: count }, rawEvent);
  const js = jetstream(world.nats.connection);
  const publish = (event: RawEvent) => {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(event.headers)) h.set(k, v);
    return js.publish(world.subject, event.payload, {
      msgID: event.id,
      headers: h,
      timeout: 5_000,
    });
  };
  const started = performance.now();
  if (mode === "waves") {
    for (let i = 0; i < count; i += window) {
      await Promise.all(events.slice(i, i + window).map(publish));
    }
  } else {
    const inFlight = new InFlight(window);
    for (const event of events) {
      await inFlight.acquire();
      inFlight.track(publish(event));
    }
    await inFlight.drain();
  }
  const seconds = (performance.now() - started) / 1000;
  const stored = await world.storedMessages();
  if (stored !== count) throw new Error(`raw publish stored ${stored} of ${count} messages`);
  return count / seconds;
}
