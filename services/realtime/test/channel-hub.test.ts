import { UnsubscribeReason } from "@kindred/proto/realtime/v1";
import { describe, expect, it } from "vitest";
import { ChannelHub, type Publication, type Subscriber } from "../src/channel-hub.ts";
import { eventFrame } from "../src/frames.ts";
import { type Codec, codecs, jsonProtocol } from "../src/protocol.ts";
import { SubscriptionSetup } from "../src/replay.ts";
import type { WireFrame } from "../src/transport.ts";

const alice = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01";
const bob = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b02";
const carol = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b03";
const channel = "circle:0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c01";
const codec: Codec = (() => {
  const found = codecs.get(jsonProtocol);
  if (found === undefined) throw new Error("no JSON codec");
  return found;
})();

/** A subscriber that records what reaches it. */
function subscriber(userId: string, hidden: string[] = []) {
  const got: unknown[] = [];
  const revoked: [string, UnsubscribeReason][] = [];
  const sub: Subscriber = {
    userId,
    codec,
    hides: (id) => hidden.includes(id),
    deliver: (frame: WireFrame) => got.push(JSON.parse(frame as string)),
    revoke: (ch, reason) => revoked.push([ch, reason]),
  };
  return { sub, got, revoked };
}

const sos = (sequence: number, message?: string) =>
  eventFrame(channel, String(sequence), new Date("2026-11-25T12:00:00Z"), {
    case: "sosRaised",
    value: { id: "a", raisedBy: bob, ...(message === undefined ? {} : { message }) },
  });

describe("channel hub", () => {
  it("skips live frames a resume already replayed (at or below the floor)", () => {
    const hub = new ChannelHub();
    const resumed = subscriber(alice);
    hub.join(channel, resumed.sub, 5);
    for (const sequence of [4, 5, 6]) hub.publish(channel, sos(sequence), { sequence });
    // Frames without a sequence (membership changes) are not affected.
    hub.publish(channel, sos(1));
    expect(resumed.got.map((f) => (f as { event: { cursor: string } }).event.cursor)).toEqual([
      "6",
      "1",
    ]);
  });

  it("gives subscribers who hide the author the variant without their words, or nothing", () => {
    const hub = new ChannelHub();
    const open = subscriber(alice);
    const blocking = subscriber(carol, [bob]);
    hub.join(channel, open.sub);
    hub.join(channel, blocking.sub);
    const publication: Publication = { authorId: bob, whenHidden: sos(7) };
    expect(hub.publish(channel, sos(7, "please"), publication)).toBe(2);
    expect(open.got).toMatchObject([{ event: { sosRaised: { message: "please" } } }]);
    expect(blocking.got).toHaveLength(1);
    expect(blocking.got[0]).not.toHaveProperty("event.sosRaised.message");
    // Without a variant, nothing (a post).
    expect(hub.publish(channel, sos(8, "words"), bob)).toBe(1);
    expect(blocking.got).toHaveLength(1);
  });

  it("hands publications to subscriptions being set up, and revokes them with the live ones", () => {
    const hub = new ChannelHub();
    const live = subscriber(alice);
    const other = subscriber(bob);
    hub.join(channel, live.sub);
    hub.join(channel, other.sub);
    const setup = new SubscriptionSetup(alice, 2);
    hub.await(channel, setup);
    hub.publish(channel, sos(1));
    setup.buffer();
    for (const sequence of [2, 3, 4]) hub.publish(channel, sos(sequence), { sequence });
    expect(setup.overflowed).toBe(true);
    expect(setup.drain().map((held) => held.publication.sequence)).toEqual([2, 3]);

    hub.revoke(channel, UnsubscribeReason.LEFT, alice.toUpperCase());
    expect(setup.revoked).toBe(UnsubscribeReason.LEFT);
    expect(live.revoked).toEqual([[channel, UnsubscribeReason.LEFT]]);
    expect(other.revoked).toEqual([]);
    hub.revoke(channel, UnsubscribeReason.CIRCLE_ARCHIVED);
    expect(other.revoked).toEqual([[channel, UnsubscribeReason.CIRCLE_ARCHIVED]]);

    hub.settle(channel, setup);
    setup.buffer();
    hub.publish(channel, sos(5), { sequence: 5 });
    expect(setup.drain()).toEqual([]);
  });
});
