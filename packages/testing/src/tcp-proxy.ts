import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * A TCP forwarder on 127.0.0.1 that tests open and close to make a real dependency (PostgreSQL,
 * Redis, NATS) appear and disappear on a fixed port, without touching the shared server.
 */
export class TcpProxy implements AsyncDisposable {
  readonly port: number;
  readonly #target: { host: string; port: number };
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();

  private constructor(port: number, target: { host: string; port: number }) {
    this.port = port;
    this.#target = target;
  }

  /** A proxy on `port` (0: any free port) that is not forwarding until `open()`. */
  static async create(target: string, port = 0): Promise<TcpProxy> {
    const url = new URL(target);
    const proxy = new TcpProxy(port, { host: url.hostname, port: Number(url.port) });
    if (port !== 0) return proxy;
    await proxy.open();
    const address = proxy.#server?.address();
    await proxy.close();
    if (address === null || address === undefined || typeof address === "string") {
      throw new Error("no TCP address");
    }
    return new TcpProxy(address.port, proxy.#target);
  }

  get isOpen(): boolean {
    return this.#server !== undefined;
  }

  async open(): Promise<void> {
    if (this.#server !== undefined) return;
    const server = createServer((client) => {
      const upstream = connect(this.#target.port, this.#target.host);
      this.#sockets.add(client).add(upstream);
      for (const s of [client, upstream]) {
        s.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
        s.on("close", () => this.#sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    server.listen(this.port, "127.0.0.1");
    await once(server, "listening");
    this.#server = server;
  }

  /** Stops listening and cuts every forwarded connection, like a crashed server. */
  async close(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
