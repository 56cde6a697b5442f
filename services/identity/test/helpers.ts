import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { eventNamespace } from "@kindred/events";
import { AuthService, UserService } from "@kindred/proto/identity/v1";
import { deleteNamespaceStreams, startReady, testServiceEnv } from "@kindred/service-kit";
import {
  closedPort,
  createTestDatabase,
  type TestDatabase,
  testEnv,
  uniqueName,
  waitUntil,
} from "@kindred/testing";
import { buildApp, type IdentityApp } from "../src/app.ts";
import { loadIdentityConfig } from "../src/config.ts";

export interface IdentityUnderTest extends AsyncDisposable {
  app: IdentityApp;
  db: TestDatabase;
  namespace: string;
  url: string;
  auth: Client<typeof AuthService>;
  users: Client<typeof UserService>;
  /** Clients that send `headers` (a bearer token, a user agent) with every call. */
  as(headers: Record<string, string>): {
    auth: Client<typeof AuthService>;
    users: Client<typeof UserService>;
  };
  /** Counts of `kindred_cache_requests_total` from `/metrics`, by `<cache>:<outcome>`. */
  cacheRequests(): Promise<Record<string, number>>;
}

/**
 * An identity service on its own database, stream namespace and Redis key prefix. With
 * `unreachableRedis`, REDIS_URL points at a closed port: identity then never gets ready (sign-in
 * needs Redis), so this waits for every other dependency instead.
 */
export async function startIdentity(
  extra: Record<string, string> = {},
  { unreachableRedis = false }: { unreachableRedis?: boolean } = {},
): Promise<IdentityUnderTest> {
  const db = await createTestDatabase("identity");
  const namespace = uniqueName("idn");
  const redis: Record<string, string> = unreachableRedis
    ? { REDIS_URL: `redis://127.0.0.1:${await closedPort()}` }
    : {};
  const app = buildApp(
    loadIdentityConfig(
      testServiceEnv({
        database: db,
        extra: { EVENTS_NAMESPACE: namespace, ...redis, ...extra },
      }),
    ),
  );
  if (unreachableRedis) {
    await app.host.start();
    await waitUntil(
      () => app.host.readiness.report(),
      (report) =>
        Object.entries(report.checks).every(([name, c]) => name === "redis" || c.status === "up"),
      { what: "every dependency but Redis", timeoutMs: 20_000 },
    );
  } else {
    await startReady(app.host);
  }
  const url = app.host.url;
  const clients = (headers: Record<string, string>) => {
    const transport = createConnectTransport({
      baseUrl: url,
      httpVersion: "1.1",
      interceptors: [
        (next) => (req) => {
          for (const [k, v] of Object.entries(headers)) req.header.set(k, v);
          return next(req);
        },
      ],
    });
    return {
      auth: createClient(AuthService, transport),
      users: createClient(UserService, transport),
    };
  };
  return {
    app,
    db,
    namespace,
    url,
    ...clients({}),
    as: clients,
    async cacheRequests() {
      const text = await (await fetch(`${app.host.healthUrl}/metrics`)).text();
      const counts: Record<string, number> = {};
      for (const [, labels = "", value] of text.matchAll(
        /^kindred_cache_requests_total\{([^}]*)\} (\d+)$/gm,
      )) {
        const label = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(labels)?.[1];
        counts[`${label("cache")}:${label("outcome")}`] = Number(value);
      }
      return counts;
    },
    async [Symbol.asyncDispose]() {
      await app.host.stop();
      await db[Symbol.asyncDispose]();
      await deleteNamespaceStreams(testEnv.natsUrl, eventNamespace(namespace));
    },
  };
}

export const bearer = (token: string | undefined) => ({ authorization: `Bearer ${token ?? ""}` });

let counter = 0;
/** A fresh, valid registration. */
export function newAccount(name = "Robin") {
  counter += 1;
  return {
    email: `${name.toLowerCase()}.${Date.now()}.${counter}@example.org`,
    password: `correct horse battery ${counter} staple`,
    displayName: name,
  };
}
