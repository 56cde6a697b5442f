import { StringValueSchema } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createClient,
  createRouterTransport,
  type HandlerContext,
} from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  authInterceptor,
  createAccessTokenVerifier,
  hasRole,
  missingRoleMessage,
  type Principal,
  principalKey,
  requireRole,
  signInFirstMessage,
} from "../src/index.ts";
import { createTestSigner } from "../src/testing.ts";
import { WhoAmIService } from "./fixtures/whoami-service.ts";

const principal = (...roles: string[]): Principal => ({
  userId: "user-1",
  sessionId: "s-1",
  roles,
  expiresAt: new Date(Date.now() + 600_000),
});

/** A handler context carrying `who` as the interceptor would leave it. */
const contextOf = (who: Principal | undefined) =>
  ({
    values: { get: (key: unknown) => (key === principalKey ? who : undefined) },
  }) as unknown as HandlerContext;

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return expect.fail("it did not throw");
}

describe("hasRole", () => {
  it("reads the token's roles, and is false for an anonymous caller", () => {
    const moderator = principal("member", "moderator");
    expect(hasRole(moderator, "member")).toBe(true);
    expect(hasRole(moderator, "moderator")).toBe(true);
    expect(hasRole(moderator, "admin")).toBe(false);
    expect(hasRole(principal(), "member")).toBe(false);
    expect(hasRole(undefined, "member")).toBe(false);
  });
});

describe("requireRole", () => {
  it("returns the principal when it holds one of the roles", () => {
    const admin = principal("member", "admin");
    expect(requireRole(contextOf(admin), "admin")).toBe(admin);
    expect(requireRole(contextOf(admin), "moderator", "admin")).toBe(admin);
  });

  it("refuses a signed-in caller without the role with permission_denied, naming the role", () => {
    const err = thrown(() => requireRole(contextOf(principal("member")), "admin"));
    expect(err).toBeInstanceOf(ConnectError);
    expect(err).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: 'this call needs the "admin" role',
    });
    expect(
      thrown(() => requireRole(contextOf(principal("member")), "moderator", "admin")),
    ).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: 'this call needs one of the roles "moderator", "admin"',
    });
  });

  it("does not take a role it does not know from the token for one it asks for", () => {
    const err = thrown(() => requireRole(contextOf(principal("Admin", "superuser")), "admin"));
    expect(err).toMatchObject({ code: Code.PermissionDenied });
  });

  it("refuses an anonymous caller with unauthenticated, as requirePrincipal does", () => {
    expect(thrown(() => requireRole(contextOf(undefined), "member"))).toMatchObject({
      code: Code.Unauthenticated,
      rawMessage: signInFirstMessage,
    });
  });

  it("gives the client the code and the message through a Connect router", async () => {
    const signer = await createTestSigner();
    const transport = createRouterTransport(
      (router) =>
        router.service(WhoAmIService, {
          private: (_req: unknown, ctx: HandlerContext) => ({
            $typeName: StringValueSchema.typeName,
            value: requireRole(ctx, "moderator", "admin").userId,
          }),
        } as never),
      {
        router: { interceptors: [authInterceptor(createAccessTokenVerifier(signer.settings))] },
      },
    );
    const client = createClient(WhoAmIService, transport) as unknown as {
      private: (
        req: unknown,
        opts?: { headers?: Record<string, string> },
      ) => Promise<{ value: string }>;
    };
    const as = async (roles: string[]) => ({
      headers: { authorization: `Bearer ${await signer.mint({ sub: "user-1", roles })}` },
    });
    const request = { $typeName: StringValueSchema.typeName, value: "hi" };

    expect((await client.private(request, await as(["member", "moderator"]))).value).toBe("user-1");
    const refused = await client.private(request, await as(["member"])).catch((e) => e);
    expect(refused).toBeInstanceOf(ConnectError);
    expect(refused).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: missingRoleMessage(["moderator", "admin"]),
    });
    expect(await client.private(request).catch((e) => e)).toMatchObject({
      code: Code.Unauthenticated,
    });
  });
});
