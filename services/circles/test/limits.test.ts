import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Code } from "@connectrpc/connect";
import { ConfigError } from "@kindred/config";
import { Visibility } from "@kindred/proto/circles/v1";
import { connectErrorOf } from "@kindred/service-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCirclesConfig } from "../src/config.ts";
import { type CirclesUnderTest, expectInOrder, newCircle, startCircles } from "./helpers.ts";

let circles: CirclesUnderTest;

beforeAll(async () => {
  circles = await startCircles({ CIRCLE_MAX_MEMBERS: "3" });
});
afterAll(async () => {
  await circles?.[Symbol.asyncDispose]();
});

describe("limits", () => {
  it("refuses to join a full circle, with or without an invite, and changes nothing", async () => {
    const owner = await circles.user();
    const circle = await newCircle(owner, { visibility: Visibility.INVITE_ONLY });
    const { invite } = await owner.c.createInvite({ circleId: circle.id });
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => circles.user()));
    if (a === undefined || b === undefined || c === undefined) throw new Error();
    await a.c.joinCircle({ circleId: circle.id, inviteCode: invite?.code });
    await b.c.joinCircle({ circleId: circle.id, inviteCode: invite?.code });

    const full = await connectErrorOf(
      c.c.joinCircle({ circleId: circle.id, inviteCode: invite?.code }),
    );
    expect(full).toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: "this circle is full (3 members)",
    });
    const row = await circles.app.deps.db.kysely
      .selectFrom("circle_invite")
      .select("uses")
      .where("circle_id", "=", circle.id)
      .executeTakeFirstOrThrow();
    expect(row.uses).toBe(2);
    expect((await owner.c.getCircle({ circleId: circle.id })).circle).toMatchObject({
      memberCount: 3,
      version: 4n,
    });
    // Members already in still "join" (nothing to do); after someone leaves, there is room.
    await b.c.joinCircle({ circleId: circle.id });
    await b.c.leaveCircle({ circleId: circle.id });
    await c.c.joinCircle({ circleId: circle.id, inviteCode: invite?.code });
    expectInOrder(await circles.eventsOf(circle.id), circle.id);
  });
});

describe("configuration", () => {
  const production = {
    KINDRED_ENV: "production",
    DATABASE_URL: "postgres://db/circles",
    REDIS_URL: "redis://redis:6379",
    NATS_URL: "nats://nats:4222",
    AUTH_JWKS_URL: "http://identity:8081/.well-known/jwks.json",
  };

  it("needs a page-token key in production, reads it from a file, and never echoes it", () => {
    expect(() => loadCirclesConfig(production)).toThrow(/PAGE_TOKEN_KEY is required/);
    const bad = "c2hvcnQta2V5";
    let error: unknown;
    try {
      loadCirclesConfig({ ...production, PAGE_TOKEN_KEY: bad });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(String(error)).toContain("PAGE_TOKEN_KEY must be exactly 32 bytes");
    expect(String(error)).not.toContain(bad);

    const key = Buffer.alloc(32, 7).toString("base64");
    const config = loadCirclesConfig({ ...production, PAGE_TOKEN_KEY: key });
    expect(config.circles).toEqual({
      pageTokenKey: Buffer.alloc(32, 7),
      maxMembers: 500,
      cacheTtlSeconds: 60,
    });
    // Mounted as a secret file (the `_FILE` form).
    const dir = mkdtempSync(path.join(tmpdir(), "circles-"));
    try {
      const file = path.join(dir, "page-token-key");
      writeFileSync(file, `${key}\n`);
      const fromFile = loadCirclesConfig({ ...production, PAGE_TOKEN_KEY_FILE: file });
      expect(fromFile.circles.pageTokenKey).toEqual(Buffer.alloc(32, 7));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("bounds CIRCLE_MAX_MEMBERS and CIRCLES_CACHE_TTL_SECONDS", () => {
    for (const value of ["1", "100001", "many"]) {
      expect(() => loadCirclesConfig({ KINDRED_ENV: "test", CIRCLE_MAX_MEMBERS: value })).toThrow(
        /CIRCLE_MAX_MEMBERS must be an integer from 2 to 100000/,
      );
    }
    for (const value of ["0", "86401"]) {
      expect(() =>
        loadCirclesConfig({ KINDRED_ENV: "test", CIRCLES_CACHE_TTL_SECONDS: value }),
      ).toThrow(/CIRCLES_CACHE_TTL_SECONDS must be an integer from 1 to 86400/);
    }
    const config = loadCirclesConfig({ KINDRED_ENV: "test", CIRCLES_CACHE_TTL_SECONDS: "5" });
    expect(config.circles.cacheTtlSeconds).toBe(5);
    expect(loadCirclesConfig({ KINDRED_ENV: "test" }).circles.maxMembers).toBe(500);
  });
});
