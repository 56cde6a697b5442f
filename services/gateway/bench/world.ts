import { once } from "node:events";
import { Agent, createServer, type Server } from "node:http";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { buildApp as buildCircles } from "@kindred/circles/app";
import { loadCirclesConfig } from "@kindred/circles/config";
import { buildApp as buildContent } from "@kindred/content/app";
import { type ContentConfig, loadContentConfig } from "@kindred/content/config";
import { eventNamespace } from "@kindred/events";
import { buildApp as buildIdentity } from "@kindred/identity/app";
import { loadIdentityConfig } from "@kindred/identity/config";
import { CircleService } from "@kindred/proto/circles/v1";
import { PostService } from "@kindred/proto/content/v1";
import { AuthService } from "@kindred/proto/identity/v1";
import type { ServiceHost } from "@kindred/runtime";
import { deleteNamespaceStreams, testServiceEnv } from "@kindred/service-kit";
import {
  createTestDatabase,
  type TestDatabase,
  testEnv,
  uniqueName,
  waitFor,
} from "@kindred/testing";
import { createApp as createGateway } from "../src/app.ts";
import { loadGatewayConfig, upstreamNames } from "../src/config.ts";

/** A registered user's clients at the edge (main thread; for setting the world up). */
export interface Person {
  id: string;
  accessToken: string;
  circles: Client<typeof CircleService>;
  posts: Client<typeof PostService>;
}

/** A content service and the gateway in front of it. */
export interface ContentStack {
  content: ServiceHost;
  events: ReturnType<typeof buildContent>["events"];
  config: ContentConfig;
  gateway: ServiceHost;
}

/**
 * Identity, circles, content and the gateway in this process, as in
 * test/circles-flows.test.ts: each service with its own new database, one event namespace of
 * their own, every port picked by the OS on 127.0.0.1. Disposing stops them all and deletes the
 * databases and streams.
 */
export interface World extends AsyncDisposable {
  readonly namespace: string;
  readonly contentDatabase: TestDatabase;
  /** Content as configured by default, behind the gateway the write series call. */
  readonly main: ContentStack;
  /** A second content (same database and events) with `extra` config, and its own gateway. */
  startContent(extra: Record<string, string>): Promise<ContentStack>;
  /** Registers a user through the gateway. */
  register(name: string): Promise<Person>;
  /** Adds a resource to dispose with the world (before the services stop). */
  use<T extends AsyncDisposable>(resource: T): T;
}

function assertLocal(url: string): void {
  const host = new URL(url).hostname;
  if (host !== "127.0.0.1" && host !== "localhost" && host !== "[::1]") {
    throw new Error(`the bench only talks to servers on this machine, not ${host}`);
  }
}

/** Starts `host` and waits until every critical check but `ignore` is up. */
async function startServing(host: ServiceHost, ignore: readonly string[] = []): Promise<void> {
  await host.start();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const report = await host.readiness.report();
    const down = Object.entries(report.checks).filter(
      ([name, check]) =>
        check.status === "down" && check.critical !== false && !ignore.includes(name),
    );
    if (report.phase === "serving" && down.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(`not ready: ${JSON.stringify(Object.fromEntries(down))}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Answers `/readyz` for the gateway's upstreams the bench does not run. */
async function readyStub(): Promise<Server> {
  const server = createServer((req, res) => res.writeHead(req.url === "/readyz" ? 200 : 404).end());
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as { port: number }).port}`;

export async function createWorld(): Promise<World> {
  for (const url of [testEnv.databaseUrl, testEnv.natsUrl, testEnv.redisUrl]) assertLocal(url);
  const stack = new AsyncDisposableStack();
  const namespace = uniqueName("apibench");
  try {
    stack.defer(() => deleteNamespaceStreams(testEnv.natsUrl, eventNamespace(namespace)));
    const [identityDb, circlesDb, contentDb] = await Promise.all([
      createTestDatabase("ab_identity"),
      createTestDatabase("ab_circles"),
      createTestDatabase("ab_content"),
    ]);
    stack.use(identityDb);
    stack.use(circlesDb);
    stack.use(contentDb);
    const common = { HOST: "127.0.0.1", EVENTS_NAMESPACE: namespace };
    // Identity and circles are only called while the world is set up: small pools.
    const light = { ...common, DATABASE_POOL_MAX: "4" };

    const identity = stack.use(
      buildIdentity(
        loadIdentityConfig(
          testServiceEnv({
            database: identityDb,
            extra: { ...light, ACCESS_TOKEN_TTL_SECONDS: "3600" },
          }),
        ),
      ).host,
    );
    await startServing(identity);
    const auth = { AUTH_JWKS_URL: `${identity.url}/.well-known/jwks.json` };
    const circles = stack.use(
      buildCircles(
        loadCirclesConfig(testServiceEnv({ database: circlesDb, extra: { ...light, ...auth } })),
      ).host,
    );
    await startServing(circles);

    const stubs = await Promise.all(
      upstreamNames
        .filter((name) => !["identity", "circles", "content"].includes(name))
        .map(async (name) => [name, await readyStub()] as const),
    );
    stack.defer(() => {
      for (const [, server] of stubs) {
        server.close();
        server.closeAllConnections();
      }
    });

    async function startContent(extra: Record<string, string>, ignore: string[] = []) {
      const config = loadContentConfig(
        testServiceEnv({ database: contentDb, extra: { ...common, ...auth, ...extra } }),
      );
      const app = buildContent(config);
      const content = stack.use(app.host);
      await startServing(content, ignore);
      const upstreams: Record<string, string> = {
        IDENTITY_URL: identity.url,
        CIRCLES_URL: circles.url,
        CONTENT_URL: content.url,
      };
      for (const [name, server] of stubs) upstreams[`${name.toUpperCase()}_URL`] = urlOf(server);
      const gateway = stack.use(
        createGateway(loadGatewayConfig(testServiceEnv({ extra: { ...common, ...upstreams } }))),
      );
      await startServing(gateway);
      return { content, events: app.events, config, gateway };
    }

    const main = await startContent({});
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    stack.defer(() => agent.destroy());
    const transport = (token?: string) =>
      createConnectTransport({
        baseUrl: main.gateway.url,
        httpVersion: "1.1",
        useBinaryFormat: true,
        nodeOptions: { agent },
        interceptors: [
          (next) => (req) => {
            if (token !== undefined) req.header.set("authorization", `Bearer ${token}`);
            return next(req);
          },
        ],
      });
    const auths = createClient(AuthService, transport());

    const world: World = {
      namespace,
      contentDatabase: contentDb,
      main,
      // A content whose Redis is down says so in its readiness; it serves all the same.
      startContent: (extra) => startContent(extra, ["redis"]),
      async register(name) {
        const stamp = `${Date.now()}.${Math.random().toString(36).slice(2, 8)}`;
        const { user, tokens } = await auths.register({
          email: `${name.toLowerCase()}.${stamp}@example.org`,
          password: `a long and quiet walk for ${name}`,
          displayName: name,
        });
        const accessToken = tokens?.accessToken ?? "";
        if (user === undefined || accessToken === "") throw new Error("Register gave no token");
        const t = transport(accessToken);
        return {
          id: user.id,
          accessToken,
          circles: createClient(CircleService, t),
          posts: createClient(PostService, t),
        };
      },
      use: (resource) => stack.use(resource),
      [Symbol.asyncDispose]: () => stack.disposeAsync(),
    };
    return world;
  } catch (err) {
    await stack.disposeAsync();
    throw err;
  }
}

/** Waits until content knows `person` as a member of `circleId` (from circles' events). */
export async function memberInContent(person: Person, circleId: string): Promise<void> {
  await waitFor(
    async () => {
      await person.posts.listFeed({ circleId, pageSize: 1 });
      return true;
    },
    { what: `content to learn ${person.id} joined ${circleId}`, timeoutMs: 30_000 },
  );
}
