import { fromBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { createTestSigner } from "@kindred/auth/testing";
import {
  circlesEvents,
  circlesStream,
  identityEvents,
  identityStream,
} from "@kindred/event-catalog";
import { eventNamespace } from "@kindred/events";
import { CircleRole } from "@kindred/proto/circles/v1";
import { PostCreatedSchema } from "@kindred/proto/content/events/v1";
import { PostService } from "@kindred/proto/content/v1";
import {
  clientFor,
  connectErrorOf,
  deleteNamespaceStreams,
  publishTestEvent,
  publishTestRevocation,
  startReady,
  testServiceEnv,
} from "@kindred/service-kit";
import { createTestDatabase, testEnv, uniqueName, waitFor } from "@kindred/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { buildApp } from "../src/app.ts";
import { loadContentConfig } from "../src/config.ts";

const circleId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b10";
const userId = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b11";

/** Makes `member` a member of `circleId`, as circles would announce it (posting needs it). */
const joinCircle = (namespace: string, member: string, circleVersion: bigint) =>
  publishTestEvent({
    natsUrl: testEnv.natsUrl,
    namespace: eventNamespace(namespace),
    stream: circlesStream,
    event: circlesEvents.memberJoined,
    message: {
      circleId,
      userId: member,
      role: CircleRole.MEMBER,
      joinedAt: timestampFromDate(new Date()),
      circleVersion,
    },
    aggregateId: circleId,
  });

describe("content", () => {
  it("writes a post and its content.post.created.v1 event together, for a signed-in author", async () => {
    await using db = await createTestDatabase("content");
    const signer = await createTestSigner();
    const namespace = uniqueName("content");
    await using _streams = {
      [Symbol.asyncDispose]: () =>
        deleteNamespaceStreams(testEnv.natsUrl, eventNamespace(namespace)),
    };
    const config = loadContentConfig(
      testServiceEnv({
        database: db,
        extra: { EVENTS_NAMESPACE: namespace, AUTH_JWKS: signer.jwks },
      }),
    );
    const app = buildApp(config);
    await using host = await startReady(app.host);
    const client = clientFor(PostService, host);
    const token = await signer.mint({ sub: userId });
    const auth = { headers: { authorization: `Bearer ${token}` } };
    await joinCircle(namespace, userId, 1n);

    const anonymous = await connectErrorOf(client.createPost({ circleId, body: "hello" }));
    expect(anonymous).toMatchObject({ code: Code.Unauthenticated });
    const blank = await connectErrorOf(client.createPost({ circleId, body: "   " }, auth));
    expect(blank).toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: "body must not be blank",
    });
    const invalid = await connectErrorOf(client.createPost({ circleId: "42", body: "x" }, auth));
    expect(invalid).toMatchObject({ code: Code.InvalidArgument });
    expect(invalid.rawMessage).toContain("circle_id");

    const { post } = await client.createPost(
      { circleId, body: "  I made it through today  ", contentWarning: "grief" },
      auth,
    );
    expect(post).toMatchObject({
      circleId,
      authorId: userId,
      body: "I made it through today",
      contentWarning: "grief",
      version: 1n,
    });
    expect((await client.getPost({ postId: post?.id ?? "" }, auth)).post?.id).toBe(post?.id);

    await app.events.relay?.flush();
    const nc = await connect({ servers: testEnv.natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      const stored = await jsm.streams.getMessage(`${namespace.toUpperCase()}_CONTENT`, { seq: 1 });
      expect(stored?.subject).toBe(`${namespace}.content.post.created.v1`);
      expect(stored?.header.get("Kindred-Actor-Id")).toBe(userId);
      expect(stored?.header.get("Kindred-Aggregate-Id")).toBe(post?.id);
      const event = fromBinary(PostCreatedSchema, stored?.data ?? new Uint8Array());
      expect(event).toMatchObject({
        postId: post?.id,
        circleId,
        authorId: userId,
        body: "I made it through today",
      });
    } finally {
      await nc.close();
    }

    const readyz = (await (await fetch(`${host.healthUrl}/readyz`)).json()) as {
      checks: Record<string, unknown>;
    };
    expect(readyz.checks.outbox).toMatchObject({
      status: "up",
      critical: false,
      details: { role: "leader", count: 0 },
    });

    expect((await client.listFeed({}, auth)).posts.map((p) => p.id)).toEqual([post?.id]);
  });

  it("refuses the still-valid tokens of a session identity revoked, and only those", async () => {
    await using db = await createTestDatabase("content");
    const signer = await createTestSigner();
    const namespace = uniqueName("content");
    await using _streams = {
      [Symbol.asyncDispose]: () =>
        deleteNamespaceStreams(testEnv.natsUrl, eventNamespace(namespace)),
    };
    // Revoked before this instance starts: the replay at start applies it.
    await publishTestRevocation({
      natsUrl: testEnv.natsUrl,
      namespace,
      sessionId: "s-earlier",
      tokensExpireAt: new Date(Date.now() + 600_000),
    });
    const config = loadContentConfig(
      testServiceEnv({
        database: db,
        extra: { EVENTS_NAMESPACE: namespace, AUTH_JWKS: signer.jwks },
      }),
    );
    await using host = await startReady(buildApp(config).host);
    const client = clientFor(PostService, host);
    const as = async (sid: string) => ({
      headers: { authorization: `Bearer ${await signer.mint({ sub: userId, sid })}` },
    });
    const getPost = async (sid: string) =>
      connectErrorOf(client.getPost({ postId: circleId }, await as(sid)));

    await waitFor(
      async () => ((await getPost("s-earlier")).code === Code.Unauthenticated ? true : undefined),
      { what: "the earlier revocation applied" },
    );
    // A valid token of another session gets past authentication (to a missing post).
    expect(await getPost("s-now")).toMatchObject({ code: Code.NotFound });

    await publishTestRevocation({
      natsUrl: testEnv.natsUrl,
      namespace,
      sessionId: "s-now",
      tokensExpireAt: new Date(Date.now() + 600_000),
    });
    const refused = await waitFor(
      async () => {
        const err = await getPost("s-now");
        return err.code === Code.Unauthenticated ? err : undefined;
      },
      { what: "the new revocation applied", timeoutMs: 5_000 },
    );
    expect(refused.rawMessage).toBe("the access token is invalid or expired");
    expect(await getPost("s-other")).toMatchObject({ code: Code.NotFound });
  });
  it("erases a deleted account's posts when identity says the account is gone", async () => {
    await using db = await createTestDatabase("content");
    const signer = await createTestSigner();
    const namespace = uniqueName("content");
    await using _streams = {
      [Symbol.asyncDispose]: () =>
        deleteNamespaceStreams(testEnv.natsUrl, eventNamespace(namespace)),
    };
    const config = loadContentConfig(
      testServiceEnv({
        database: db,
        extra: { EVENTS_NAMESPACE: namespace, AUTH_JWKS: signer.jwks },
      }),
    );
    const app = buildApp(config);
    await using host = await startReady(app.host);
    const client = clientFor(PostService, host);
    const leaving = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b21";
    const staying = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b22";
    const auth = async (sub: string) => ({
      headers: { authorization: `Bearer ${await signer.mint({ sub })}` },
    });
    await joinCircle(namespace, leaving, 1n);
    await joinCircle(namespace, staying, 2n);
    const gone = await client.createPost(
      { circleId, body: "my story", contentWarning: "loss" },
      await auth(leaving),
    );
    const kept = await client.createPost({ circleId, body: "mine" }, await auth(staying));

    await publishTestEvent({
      natsUrl: testEnv.natsUrl,
      namespace: eventNamespace(namespace),
      stream: identityStream,
      event: identityEvents.userDeleted,
      message: { userId: leaving, deletedAt: timestampFromDate(new Date()) },
      aggregateId: leaving,
    });
    const row = await waitFor(
      async () => {
        const post = await app.events.database.kysely
          .selectFrom("post")
          .selectAll()
          .where("id", "=", gone.post?.id ?? "")
          .executeTakeFirstOrThrow();
        return post.deleted_at === null ? undefined : post;
      },
      { what: "the deleted account's post erased" },
    );
    expect(row).toMatchObject({ body: "", content_warning: null, version: "2" });
    expect(
      await connectErrorOf(client.getPost({ postId: gone.post?.id ?? "" }, await auth(staying))),
    ).toMatchObject({ code: Code.NotFound });
    expect(
      (await client.getPost({ postId: kept.post?.id ?? "" }, await auth(staying))).post?.body,
    ).toBe("mine");
  });
});
