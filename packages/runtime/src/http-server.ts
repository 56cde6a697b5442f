import { once } from "node:events";
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from "node:http";
import type { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * A `node:http` server that shuts down gracefully: `close()` stops accepting connections at
 * once, lets in-flight requests finish (answering each with `Connection: close`), and only when
 * `deadline` fires cuts what is left.
 */
export class DrainingHttpServer {
  readonly server: Server;
  #inFlight = 0;
  #draining = false;
  /** Sockets handed to the upgrade handler (WebSockets, tunnels): the server no longer tracks them. */
  readonly #upgraded = new Set<Duplex>();
  #idle: (() => void) | undefined;

  constructor(
    handler: RequestHandler,
    options: ServerOptions & { onUpgrade?: UpgradeHandler } = {},
  ) {
    this.server = createServer(
      { keepAliveTimeout: 65_000, requestTimeout: 300_000, headersTimeout: 60_000, ...options },
      (req, res) => {
        this.#inFlight++;
        if (this.#draining) res.setHeader("connection", "close");
        res.once("close", () => {
          this.#inFlight--;
          if (this.#inFlight === 0) this.#idle?.();
        });
        handler(req, res);
      },
    );
    const onUpgrade = options.onUpgrade;
    if (onUpgrade !== undefined) {
      this.server.on("upgrade", (req, socket, head) => {
        this.#upgraded.add(socket);
        socket.once("close", () => this.#upgraded.delete(socket));
        onUpgrade(req, socket, head);
      });
    }
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  async listen(port: number, host: string): Promise<number> {
    this.server.listen(port, host);
    await once(this.server, "listening");
    const address = this.server.address();
    if (address === null || typeof address === "string") throw new Error("no TCP address");
    return address.port;
  }

  async close(deadline: AbortSignal): Promise<{ cut: number }> {
    if (!this.server.listening) return { cut: 0 };
    this.#draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const idle = new Promise<void>((resolve) => {
      this.#idle = resolve;
      if (this.#inFlight === 0) resolve();
    });
    await Promise.race([idle, once(deadline, "abort").catch(() => {})]);
    // Upgraded connections are closed by their owner when draining (realtime sends 1012);
    // whatever is still open at the deadline is cut.
    while (this.#upgraded.size > 0 && !deadline.aborted) {
      await Promise.race([sleep(25), once(deadline, "abort").catch(() => {})]);
    }
    const cut = this.#inFlight + this.#upgraded.size;
    for (const socket of this.#upgraded) socket.destroy();
    this.#upgraded.clear();
    this.server.closeIdleConnections();
    if (cut > 0 || deadline.aborted) this.server.closeAllConnections();
    // Connections that finished their last response close on their own; give them a moment.
    await Promise.race([closed, sleep(1_000).then(() => this.server.closeAllConnections())]);
    await closed;
    return { cut };
  }
}
