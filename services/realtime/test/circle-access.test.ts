import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { createLogger } from "@kindred/logging";
import { CircleRole, CircleSchema, CircleService } from "@kindred/proto/circles/v1";
import { ErrorCode } from "@kindred/proto/realtime/v1";
import { closedPort } from "@kindred/testing";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { type Admission, CirclesAccess } from "../src/circle-access.ts";

const alice = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b01";
const bob = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9b02";
const circle = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c01";
const archived = "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c02";
const logger = createLogger({ service: "realtime-test", level: "silent" });

/**
 * A fake of circles' GetCircle: `members` maps `<circle>:<token>` to a role; a circle in none of
 * them does not exist; `tokens` records the Authorization headers received.
 */
function fakeCircles(members: Map<string, CircleRole>) {
  const tokens: string[] = [];
  const impl: Partial<ServiceImpl<typeof CircleService>> = {
    async getCircle(req, ctx) {
      const authorization = ctx.requestHeader.get("authorization") ?? "";
      tokens.push(authorization);
      const token = authorization.replace(/^Bearer /, "");
      if (token === "expired") throw new ConnectError("token expired", Code.Unauthenticated);
      const known = [...members.keys()].some((key) => key.startsWith(`${req.circleId}:`));
      if (!known) throw new ConnectError("circle not found", Code.NotFound);
      return {
        circle: create(CircleSchema, {
          id: req.circleId,
          archivedAt: req.circleId === archived ? timestampNow() : undefined,
        }),
        myRole: members.get(`${req.circleId}:${token}`),
      };
    },
  };
  return { impl, tokens };
}

function accessWith(members: Map<string, CircleRole>, options: { cacheMs?: number } = {}) {
  const circles = fakeCircles(members);
  let now = 1_000;
  const registry = new Registry();
  const access = new CirclesAccess({
    transport: createRouterTransport(({ service }) => service(CircleService, circles.impl)),
    timeoutMs: 1_000,
    cacheMs: options.cacheMs ?? 30_000,
    logger,
    registry,
    now: () => now,
  });
  return {
    access,
    tokens: circles.tokens,
    registry,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const checks = async (registry: Registry) =>
  Object.fromEntries(
    [
      ...(await registry.metrics()).matchAll(
        /^kindred_realtime_membership_checks_total\{outcome="(\w+)"\} (\d+)$/gm,
      ),
    ].map(([, outcome, n]) => [outcome, Number(n)]),
  );

describe("circle access", () => {
  it("admits members, asking circles with the client's own token, and reuses the answer briefly", async () => {
    const { access, tokens, registry, advance } = accessWith(
      new Map([[`${circle}:token-alice`, CircleRole.MEMBER]]),
    );
    const first = access.admit(alice, circle, "token-alice");
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toEqual({ allowed: true });
    expect(tokens).toEqual(["Bearer token-alice"]);

    // Known now: answered at once, without a call.
    expect(access.admit(alice.toUpperCase(), circle.toUpperCase(), "token-alice")).toEqual({
      allowed: true,
    });
    expect(tokens).toHaveLength(1);
    advance(29_999);
    expect(access.admit(alice, circle, "token-alice")).toEqual({ allowed: true });
    advance(1);
    expect(await access.admit(alice, circle, "token-alice")).toEqual({ allowed: true });
    expect(tokens).toHaveLength(2);

    // A membership event forgets the answer: the next subscribe asks again.
    access.forget(circle, alice);
    const asked = access.admit(alice, circle, "token-alice");
    expect(asked).toBeInstanceOf(Promise);
    await asked;
    expect(await checks(registry)).toMatchObject({ member: 3, cached: 2 });
  });

  it("refuses non-members, unknown and archived circles and refused tokens, and keeps no refusal", async () => {
    const { access, tokens } = accessWith(
      new Map([
        [`${circle}:token-alice`, CircleRole.OWNER],
        [`${archived}:token-alice`, CircleRole.OWNER],
      ]),
    );
    const refusal = (code: ErrorCode, message: string): Admission => ({
      allowed: false,
      code,
      message,
    });
    const notMember = refusal(
      ErrorCode.PERMISSION_DENIED,
      "only members of this circle can subscribe to it",
    );
    expect(await access.admit(bob, circle, "token-bob")).toEqual(notMember);
    expect(await access.admit(bob, circle, "token-bob")).toEqual(notMember);
    expect(tokens).toHaveLength(2);
    expect(
      await access.admit(alice, "0195f1d2-7c3a-7b2e-9a41-3f6c2d8e9c09", "token-alice"),
    ).toEqual(refusal(ErrorCode.NOT_FOUND, "circle not found"));
    expect(await access.admit(alice, archived, "token-alice")).toEqual(
      refusal(ErrorCode.PERMISSION_DENIED, "the circle is archived; it has no live channel"),
    );
    expect(await access.admit(alice, circle, "expired")).toMatchObject({
      allowed: false,
      code: ErrorCode.UNAUTHENTICATED,
    });
  });

  it("does not keep an answer that a membership event overtook while circles was asked", async () => {
    const members = new Map([[`${circle}:token-alice`, CircleRole.MEMBER]]);
    const { access, tokens } = accessWith(members);
    const answer = access.admit(alice, circle, "token-alice");
    // Alice leaves while the question is on its way: the answer may predate the leave.
    access.forget(circle, alice);
    expect(await answer).toEqual({ allowed: true });
    const asked = access.admit(alice, circle, "token-alice");
    expect(asked).toBeInstanceOf(Promise);
    await asked;
    expect(tokens).toHaveLength(2);

    // An archive forgets what is known of every member of the circle.
    await access.admit(alice, circle, "token-alice");
    const again = access.admit(alice, circle, "token-alice");
    expect(again).toEqual({ allowed: true });
    access.forget(circle);
    const forgotten = access.admit(alice, circle, "token-alice");
    expect(forgotten).toBeInstanceOf(Promise);
    await forgotten;
  });

  it("keeps nothing with a cache time of 0", async () => {
    const { access, tokens } = accessWith(new Map([[`${circle}:token-alice`, CircleRole.MEMBER]]), {
      cacheMs: 0,
    });
    await access.admit(alice, circle, "token-alice");
    await access.admit(alice, circle, "token-alice");
    expect(tokens).toHaveLength(2);
  });

  it("answers INTERNAL when circles is down or slower than the deadline", async () => {
    const registry = new Registry();
    const down = new CirclesAccess({
      transport: createConnectTransport({
        baseUrl: `http://127.0.0.1:${await closedPort()}`,
        httpVersion: "1.1",
      }),
      timeoutMs: 1_000,
      cacheMs: 30_000,
      logger,
      registry,
    });
    const tryAgain = {
      allowed: false,
      code: ErrorCode.INTERNAL,
      message: "could not check your membership of this circle; try again",
    };
    expect(await down.admit(alice, circle, "token-alice")).toEqual(tryAgain);

    // A real Connect server (the node adapter) that answers after the deadline.
    const server = createServer(
      connectNodeAdapter({
        routes: (router) =>
          router.service(CircleService, {
            async getCircle(req) {
              await sleep(1_000);
              return { circle: { id: req.circleId }, myRole: CircleRole.MEMBER };
            },
          }),
      }),
    );
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const slow = new CirclesAccess({
        transport: createConnectTransport({
          baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          httpVersion: "1.1",
        }),
        timeoutMs: 100,
        cacheMs: 30_000,
        logger,
        registry: new Registry(),
      });
      const started = Date.now();
      expect(await slow.admit(alice, circle, "token-alice")).toEqual(tryAgain);
      expect(Date.now() - started).toBeLessThan(900);
    } finally {
      server.closeAllConnections();
      server.close();
    }
    expect(await checks(registry)).toMatchObject({ failed: 1 });
  });
});
