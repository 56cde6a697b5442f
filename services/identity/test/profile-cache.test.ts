import { Code } from "@connectrpc/connect";
import { connectErrorOf } from "@kindred/service-kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, type IdentityUnderTest, newAccount, startIdentity } from "./helpers.ts";

let identity: IdentityUnderTest;

beforeAll(async () => {
  identity = await startIdentity();
});
afterAll(async () => {
  await identity?.[Symbol.asyncDispose]();
});

async function signUp(under: IdentityUnderTest, name: string) {
  const account = newAccount(name);
  const { user, tokens } = await under.auth.register(account);
  return { account, id: user?.id ?? "", as: under.as(bearer(tokens?.accessToken)) };
}

/** The cache requests `fn` made, by `<cache>:<outcome>` (from `/metrics`). */
async function counted(under: IdentityUnderTest, fn: () => Promise<unknown>) {
  const before = await under.cacheRequests();
  await fn();
  const after = await under.cacheRequests();
  return Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v !== 0),
  );
}

describe("profile cache", () => {
  it("answers a second GetUser of a profile from Redis, to any signed-in caller", async () => {
    const kim = await signUp(identity, "Kim");
    const lee = await signUp(identity, "Lee");
    const ash = await signUp(identity, "Ash");
    const read = (as: typeof kim.as, userId = lee.id) => as.users.getUser({ userId });

    expect(await counted(identity, () => read(kim.as))).toEqual({ "profile:miss": 1 });
    const first = await read(kim.as);
    let others: unknown[] = [];
    expect(
      await counted(identity, async () => {
        others = [await read(ash.as), await read(kim.as, lee.id.toUpperCase())];
      }),
    ).toEqual({ "profile:hit": 2 });
    expect(others).toEqual([first, first]);
    expect(first.profile).toMatchObject({ id: lee.id, displayName: "Lee", bio: "" });

    // Signing in is still checked before the cache is asked.
    expect(
      await counted(identity, async () => {
        const err = await connectErrorOf(identity.users.getUser({ userId: lee.id }));
        expect(err.code).toBe(Code.Unauthenticated);
      }),
    ).toEqual({});
  });

  it("shows UpdateProfile and DeleteAccount at the very next read", async () => {
    const kim = await signUp(identity, "Kim");
    const lee = await signUp(identity, "Lee");
    const profile = async () => (await kim.as.users.getUser({ userId: lee.id })).profile;
    await profile();
    expect(await profile()).toMatchObject({ displayName: "Lee", bio: "" });

    await lee.as.users.updateProfile({ displayName: "Leigh", expectedVersion: 1n });
    expect(await profile()).toMatchObject({ displayName: "Leigh", bio: "" });
    await lee.as.users.updateProfile({ bio: "night shifts", expectedVersion: 2n });
    expect(await profile()).toMatchObject({ displayName: "Leigh", bio: "night shifts" });

    await lee.as.users.deleteAccount({ password: lee.account.password });
    const gone = await connectErrorOf(kim.as.users.getUser({ userId: lee.id }));
    expect(gone.code).toBe(Code.NotFound);
  });

  it("answers GetUser, GetMe and UpdateProfile from the database while Redis is unreachable", async () => {
    await using down = await startIdentity({}, { unreachableRedis: true });
    // Identity stays ready: only password sign-in needs Redis, and it fails closed (ADR 9).
    const report = await down.app.host.readiness.report();
    expect(report.ready).toBe(true);
    expect(report.checks.redis).toMatchObject({ status: "down", critical: false });

    const kim = await signUp(down, "Kim");
    const lee = await signUp(down, "Lee");
    const requests = await counted(down, async () => {
      const read = () => kim.as.users.getUser({ userId: lee.id });
      expect((await read()).profile).toMatchObject({ id: lee.id, displayName: "Lee" });
      expect((await read()).profile).toMatchObject({ id: lee.id, displayName: "Lee" });
      await lee.as.users.updateProfile({ displayName: "Leigh", expectedVersion: 1n });
      expect((await read()).profile).toMatchObject({ displayName: "Leigh" });
      expect((await lee.as.users.getMe({})).user).toMatchObject({
        displayName: "Leigh",
        email: lee.account.email,
      });
      const unknown = await connectErrorOf(kim.as.users.getUser({ userId: crypto.randomUUID() }));
      expect(unknown.code).toBe(Code.NotFound);
    });
    expect(requests).toEqual({ "profile:error": 4 });
    const login = await connectErrorOf(down.auth.login(kim.account));
    expect(login.code).toBe(Code.Unavailable);
  });
});
