import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { canConnect, closedPort } from "./ports.ts";

/**
 * A NATS server with JetStream of the test's own, on a free port, that the test can stop and
 * start again (keeping its storage): for broker-outage tests that must not touch the shared one.
 */
export class TestNatsServer implements AsyncDisposable {
  readonly port: number;
  readonly url: string;
  readonly #dir: string;
  readonly #binary: string;
  #process: ChildProcess | undefined;

  private constructor(port: number, dir: string, binary: string) {
    this.port = port;
    this.url = `nats://127.0.0.1:${port}`;
    this.#dir = dir;
    this.#binary = binary;
  }

  static async start(
    binary = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server",
  ): Promise<TestNatsServer> {
    const server = new TestNatsServer(
      await closedPort(),
      await mkdtemp(path.join(tmpdir(), "kindred-nats-")),
      binary,
    );
    await server.start();
    return server;
  }

  get running(): boolean {
    return this.#process !== undefined;
  }

  async start(): Promise<void> {
    if (this.#process !== undefined) return;
    const child = spawn(
      this.#binary,
      ["-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", this.#dir],
      { stdio: "ignore" },
    );
    this.#process = child;
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(this.port))) {
      if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error("nats-server did not start listening");
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Stops the server: SIGTERM (a clean stop) or SIGKILL (a crash). */
  async stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const child = this.#process;
    if (child === undefined) return;
    this.#process = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      await once(child, "exit");
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop("SIGKILL");
    await rm(this.#dir, { recursive: true, force: true });
  }
}
