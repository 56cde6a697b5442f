import { type IncomingMessage, STATUS_CODES } from "node:http";
import { connect as tcpConnect } from "node:net";
import type { Duplex } from "node:stream";
import { connect as tlsConnect } from "node:tls";
import type { AccessTokenVerifier } from "@kindred/auth";
import type { Logger } from "@kindred/logging";
import { correlationIdHeader, requestIdHeader, type UpgradeHandler } from "@kindred/runtime";
import { checkBearer } from "./bearer-check.ts";
import { type Forwarding, forwardingOf, hopByHop, replacedHeaders } from "./forwarding.ts";

/** Public WebSocket paths and the upstream that serves each. */
const routes = new Map([["/v1/realtime", "realtime"]]);

export interface UpgradeProxyOptions {
  /** `realtime` → `http://127.0.0.1:8085`. */
  upstreams: ReadonlyMap<string, string>;
  logger: Logger;
  /** How long to wait for the upstream's TCP (and TLS) connection. */
  connectTimeoutMs?: number;
  /** Checks the bearer token of each upgrade before it is tunnelled. */
  verifier: AccessTokenVerifier;
}

function refuse(
  socket: Duplex,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ code, message });
  const head = Object.entries({
    ...headers,
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(body)),
    connection: "close",
  })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n${head}\r\n${body}`);
}

/**
 * Routes WebSocket upgrades (`GET /v1/realtime`) to their upstream as a tunnel: the upgrade
 * request goes to the upstream with its headers (Authorization, Sec-WebSocket-*), a request id,
 * a correlation id and X-Forwarded-For, and from then on bytes flow both ways untouched — the
 * upstream's answer (101, or its own refusal) reaches the client as it was sent. A bearer token
 * that does not verify is refused here first (401, or 503 when the keys cannot be fetched),
 * before any tunnel; an upgrade without one goes on, for the upstream to refuse. An upstream
 * that cannot be reached is answered with 503 and a JSON body; other paths with 404.
 */
export function createUpgradeProxy(options: UpgradeProxyOptions): UpgradeHandler {
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  return (req, client, head) => {
    client.on("error", () => client.destroy());
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const owner = routes.get(path);
    const base = owner === undefined ? undefined : options.upstreams.get(owner);
    if (owner === undefined || base === undefined || req.method !== "GET") {
      refuse(client, 404, "not_found", `no WebSocket endpoint at ${path}`);
      return;
    }
    const forwarding = forwardingOf(req);
    const { requestId } = forwarding;
    void checkBearer(req, options.verifier, options.logger, { requestId, path })
      .then((refusal) => {
        if (refusal !== undefined) {
          refuse(client, refusal.status, refusal.code, refusal.message, {
            ...refusal.headers,
            [requestIdHeader]: requestId,
          });
        } else if (!client.destroyed) {
          tunnel(req, client, head, { owner, base, path, forwarding });
        }
      })
      .catch((err: unknown) => {
        options.logger.error({ err, requestId, path }, "websocket upgrade failed");
        refuse(client, 500, "internal", "the gateway failed; retry later");
      });
  };

  function tunnel(
    req: IncomingMessage,
    client: Duplex,
    head: Buffer,
    route: { owner: string; base: string; path: string; forwarding: Forwarding },
  ): void {
    const { owner, base, path } = route;
    const { requestId, correlationId, forwardedFor } = route.forwarding;

    const lines = [`GET ${req.url} HTTP/1.1`, "connection: Upgrade", "upgrade: websocket"];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i] ?? "";
      const lower = name.toLowerCase();
      if (!hopByHop.has(lower) && !replacedHeaders.has(lower))
        lines.push(`${name}: ${req.rawHeaders[i + 1]}`);
    }
    lines.push(
      `${requestIdHeader}: ${requestId}`,
      `${correlationIdHeader}: ${correlationId}`,
      `x-forwarded-for: ${forwardedFor}`,
    );

    const target = new URL(base);
    const secure = target.protocol === "https:";
    const port = Number(target.port) || (secure ? 443 : 80);
    const upstream = secure
      ? tlsConnect({ host: target.hostname, port, servername: target.hostname })
      : tcpConnect({ host: target.hostname, port });
    upstream.setTimeout(connectTimeoutMs);
    let tunnelled = false;

    upstream.once(secure ? "secureConnect" : "connect", () => {
      upstream.setTimeout(0);
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      tunnelled = true;
      upstream.setNoDelay(true);
      upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
      options.logger.debug({ upstream: owner, requestId, correlationId }, "websocket tunnel open");
    });
    upstream.on("timeout", () => upstream.destroy(new Error("connect timed out")));
    upstream.on("error", (err) => {
      if (tunnelled) {
        client.destroy();
        return;
      }
      options.logger.warn(
        { err, upstream: owner, requestId, correlationId, path },
        "upstream unreachable for a websocket upgrade",
      );
      refuse(client, 503, "unavailable", `the ${owner} service is unavailable, retry later`);
    });
    // Once tunnelled, one side closing ends the other (after what was piped is written).
    upstream.on("close", () => {
      if (tunnelled && !client.writableEnded) client.destroy();
    });
    client.on("close", () => upstream.destroy());
  }
}
