import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { StringValueSchema } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  createClient,
  createRouterTransport,
  type HandlerContext,
} from "@connectrpc/connect";
import { connectNodeAdapter, createConnectTransport } from "@connectrpc/connect-node";
import { DependencyUnavailableError } from "@kindred/errors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  authInterceptor,
  createAccessTokenVerifier,
  invalidTokenMessage,
  type Principal,
  principalOf,
  requirePrincipal,
  signInFirstMessage,
} from "../src/index.ts";
import { createTestSigner, type TestSigner } from "../src/testing.ts";
import { WhoAmIService } from "./fixtures/whoami-service.ts";

type Call = (
  req: unknown,
  opts?: { headers?: Record<string, string> },
) => Promise<{ value: string }>;
interface Client {
  whoAmI: Call;
  private: Call;
}

const value = (v: string) => ({ $typeName: StringValueSchema.typeName, value: v });
const describePrincipal = (p: Principal | undefined) =>
  p === undefined ? "anonymous" : `${p.userId}/${p.sessionId}/${p.roles.join(",")}`;

let signer: TestSigner;
let server: Server;
let client: Client;
/** What the handlers saw, so a test can check the principal reached them. */
const seen: (Principal | undefined)[] = [];

beforeAll(async () => {
  signer = await createTestSigner();
  const verifier = createAccessTokenVerifier(signer.settings);
  const routes = (router: ConnectRouter) =>
    router.service(WhoAmIService, {
      whoAmI: (_req: unknown, ctx: HandlerContext) => {
        seen.push(principalOf(ctx));
        return value(describePrincipal(principalOf(ctx)));
      },
      private: (_req: unknown, ctx: HandlerContext) => value(requirePrincipal(ctx).userId),
    } as never);
  server = createServer(connectNodeAdapter({ routes, interceptors: [authInterceptor(verifier)] }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  client = createClient(
    WhoAmIService,
    createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "1.1" }),
  ) as unknown as Client;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

async function connectError(call: Promise<unknown>): Promise<ConnectError> {
  const err = await call.then(
    () => expect.fail("the call succeeded"),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

describe("authInterceptor through a real Connect server", () => {
  it("hands the principal of a valid token to the handler", async () => {
    seen.length = 0;
    const token = await signer.mint({ sub: "user-1", sid: "s-1", roles: ["member", "admin"] });
    const res = await client.whoAmI(value("hi"), bearer(token));
    expect(res.value).toBe("user-1/s-1/member,admin");
    expect(seen).toEqual([
      {
        userId: "user-1",
        sessionId: "s-1",
        roles: ["member", "admin"],
        expiresAt: expect.any(Date),
      },
    ]);
    expect((await client.private(value("hi"), bearer(token))).value).toBe("user-1");
  });

  it("lets a call without a token through, anonymous", async () => {
    seen.length = 0;
    expect((await client.whoAmI(value("hi"))).value).toBe("anonymous");
    expect(seen).toEqual([undefined]);
  });

  it("refuses a method that needs a user to an anonymous caller", async () => {
    const err = await connectError(client.private(value("hi")));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe(signInFirstMessage);
  });

  it("refuses an invalid token on every method, without saying why", async () => {
    const expired = await signer.mint({ sub: "u", expiresInSeconds: -60 });
    const foreign = await (await createTestSigner()).mint({ sub: "u" });
    const wrongAudience = await signer.mint({ sub: "u", audience: "elsewhere" });
    for (const token of [expired, foreign, wrongAudience, "garbage"]) {
      for (const call of [client.whoAmI, client.private]) {
        const err = await connectError(call(value("hi"), bearer(token)));
        expect(err.code).toBe(Code.Unauthenticated);
        expect(err.rawMessage).toBe(invalidTokenMessage);
      }
    }
  });

  it("refuses a header that is not a bearer token", async () => {
    const token = await signer.mint({ sub: "u" });
    const err = await connectError(
      client.whoAmI(value("hi"), { headers: { authorization: `Basic ${token}` } }),
    );
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe(invalidTokenMessage);
  });
});

describe("authInterceptor when the keys cannot be fetched", () => {
  it("answers unavailable, not unauthenticated, so the client retries", async () => {
    const down = {
      verify: () => Promise.reject(new DependencyUnavailableError("jwks")),
    };
    const transport = createRouterTransport(
      (router) =>
        router.service(WhoAmIService, {
          whoAmI: () => value("unreachable"),
        } as never),
      { router: { interceptors: [authInterceptor(down)] } },
    );
    const inMemory = createClient(WhoAmIService, transport) as unknown as Client;
    const err = await connectError(inMemory.whoAmI(value("hi"), bearer("a.b.c")));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe("the service is temporarily unavailable, retry later");
  });
});

describe("requirePrincipal", () => {
  it("fails with unauthenticated and the sign-in message outside any server", () => {
    const ctx = { values: { get: () => undefined } } as unknown as HandlerContext;
    const err = (() => {
      try {
        requirePrincipal(ctx);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConnectError);
    expect(err).toMatchObject({ code: Code.Unauthenticated, rawMessage: signInFirstMessage });
  });
});
