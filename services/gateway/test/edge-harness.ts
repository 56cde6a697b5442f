import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { ServiceHost } from "@kindred/runtime";
import { startReady, testServiceEnv } from "@kindred/service-kit";
import { createApp } from "../src/app.ts";
import { loadGatewayConfig, upstreamNames } from "../src/config.ts";

/** An upstream that is only ready (`/readyz` 200): for the services a test does not run. */
async function readyStub(): Promise<Server> {
  const server = createServer((req, res) => res.writeHead(req.url === "/readyz" ? 200 : 404).end());
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}

/**
 * The gateway in front of the real services a flow test started (`upstreams`: `IDENTITY_URL`,
 * …); every other upstream is a ready stub, so the gateway is ready. Disposing stops both.
 */
export async function startEdge(
  upstreams: Record<string, string>,
  extra: Record<string, string>,
): Promise<ServiceHost & AsyncDisposable> {
  const stubs: Server[] = [];
  const all = { ...upstreams };
  for (const name of upstreamNames.filter((n) => !(`${n.toUpperCase()}_URL` in all))) {
    const stub = await readyStub();
    stubs.push(stub);
    all[`${name.toUpperCase()}_URL`] =
      `http://127.0.0.1:${(stub.address() as { port: number }).port}`;
  }
  const gateway = await startReady(
    createApp(loadGatewayConfig(testServiceEnv({ extra: { ...all, ...extra } }))),
  );
  const stop = gateway[Symbol.asyncDispose].bind(gateway);
  return Object.assign(gateway, {
    async [Symbol.asyncDispose]() {
      await stop();
      for (const stub of stubs) stub.close();
    },
  });
}

/** A Connect transport to the edge that sends `token` as a bearer token, when given. */
export function bearerTransport(baseUrl: string, token?: string): Transport {
  return createConnectTransport({
    baseUrl,
    httpVersion: "1.1",
    interceptors: [
      (next) => (req) => {
        if (token !== undefined) req.header.set("authorization", `Bearer ${token}`);
        return next(req);
      },
    ],
  });
}
