import { randomUUID } from "node:crypto";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createTestSigner } from "@kindred/auth/testing";
import { buildApp as buildCircles } from "@kindred/circles/app";
import { loadCirclesConfig } from "@kindred/circles/config";
import { CircleService, Visibility } from "@kindred/proto/circles/v1";
import { startReady, testServiceEnv } from "@kindred/service-kit";
import { createTestDatabase } from "@kindred/testing";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import { loadRealtimeConfig } from "../src/config.ts";
import { contentEvents, openSocket, type TestSocket } from "./helpers.ts";

/**
 * Realtime with the real circles service: real tokens (a test signer both trust), membership
 * checked by circles' GetCircle with each client's own token, and revocations driven by the
 * events circles publishes when people leave, are banned, or the circle is archived.
 */
describe("circle subscriptions with the circles service", () => {
  it("admits members only and ends their subscriptions as circles changes", async () => {
    await using events = await contentEvents();
    await events.createAllStreams();
    const signer = await createTestSigner();
    await using db = await createTestDatabase("rt_circles");
    const extra = { EVENTS_NAMESPACE: events.namespace, AUTH_JWKS: signer.jwks };
    await using circles = await startReady(
      buildCircles(loadCirclesConfig(testServiceEnv({ database: db, extra }))).host,
    );
    await using realtime = await startReady(
      createApp(
        loadRealtimeConfig(testServiceEnv({ extra: { ...extra, CIRCLES_URL: circles.url } })),
      ),
    );
    const client = createClient(
      CircleService,
      createConnectTransport({ baseUrl: circles.url, httpVersion: "1.1" }),
    );
    const person = async () => {
      const id = randomUUID();
      const token = await signer.mint({ sub: id, roles: ["member"], sid: randomUUID() });
      return { id, token, as: { headers: { authorization: `Bearer ${token}` } } };
    };
    const [alice, bob, carol] = [await person(), await person(), await person()];
    const { circle } = await client.createCircle(
      { name: "Night owls", description: "", visibility: Visibility.OPEN },
      alice.as,
    );
    const circleId = circle?.id ?? "";
    const channel = `circle:${circleId}`;
    const socketOf = (who: { token: string }) => openSocket(realtime.url, { token: who.token });
    const subscribe = async (socket: TestSocket, ref: string, to = channel) => {
      socket.send({ ref, subscribe: { channel: to } });
      return socket.next();
    };
    const changed = (kind: string, userId: string, extraFields: Record<string, unknown> = {}) => ({
      event: { channel, membershipChanged: { kind, circleId, userId, ...extraFields } },
    });

    await using ofAlice = await socketOf(alice);
    expect(await subscribe(ofAlice, "a")).toMatchObject({ ref: "a", subscribed: { channel } });
    await using ofBob = await socketOf(bob);
    // An open circle is visible to bob, but he is not a member; an unknown circle is not found.
    expect(await subscribe(ofBob, "b1")).toMatchObject({
      ref: "b1",
      error: { code: "ERROR_CODE_PERMISSION_DENIED", channel },
    });
    const unknown = `circle:${randomUUID()}`;
    expect(await subscribe(ofBob, "b2", unknown)).toMatchObject({
      ref: "b2",
      error: { code: "ERROR_CODE_NOT_FOUND", channel: unknown },
    });

    await client.joinCircle({ circleId }, bob.as);
    expect(await ofAlice.next()).toMatchObject(
      changed("MEMBERSHIP_CHANGE_KIND_JOINED", bob.id, { role: "CIRCLE_ROLE_MEMBER" }),
    );
    expect(await subscribe(ofBob, "b3")).toMatchObject({ ref: "b3", subscribed: { channel } });
    await client.leaveCircle({ circleId }, bob.as);
    expect(await ofBob.next()).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      unsubscribed: { channel, reason: "UNSUBSCRIBE_REASON_LEFT" },
    });
    expect(await ofAlice.next()).toMatchObject(changed("MEMBERSHIP_CHANGE_KIND_LEFT", bob.id));
    // The "member" answer was forgotten with the leave: asked again, circles says no.
    expect(await subscribe(ofBob, "b4")).toMatchObject({
      ref: "b4",
      error: { code: "ERROR_CODE_PERMISSION_DENIED" },
    });

    await client.joinCircle({ circleId }, carol.as);
    expect(await ofAlice.next()).toMatchObject(changed("MEMBERSHIP_CHANGE_KIND_JOINED", carol.id));
    await using ofCarol = await socketOf(carol);
    expect(await subscribe(ofCarol, "c")).toMatchObject({ subscribed: { channel } });
    await client.banMember(
      { circleId, userId: carol.id, expiresInSeconds: 3_600n, reason: "" },
      alice.as,
    );
    expect(await ofCarol.next()).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      unsubscribed: { channel, reason: "UNSUBSCRIBE_REASON_BANNED" },
    });
    expect(await ofAlice.next()).toMatchObject(changed("MEMBERSHIP_CHANGE_KIND_BANNED", carol.id));

    await client.archiveCircle({ circleId }, alice.as);
    expect(await ofAlice.next()).toMatchObject({
      event: {
        channel,
        membershipChanged: { kind: "MEMBERSHIP_CHANGE_KIND_CIRCLE_ARCHIVED", circleId },
      },
    });
    expect(await ofAlice.next()).toEqual({
      schemaVersion: "SCHEMA_VERSION_1",
      unsubscribed: { channel, reason: "UNSUBSCRIBE_REASON_CIRCLE_ARCHIVED" },
    });
    expect(await subscribe(ofAlice, "a2")).toMatchObject({
      ref: "a2",
      error: {
        code: "ERROR_CODE_PERMISSION_DENIED",
        message: "the circle is archived; it has no live channel",
      },
    });
  });
});
