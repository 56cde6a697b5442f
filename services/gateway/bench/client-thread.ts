import { once } from "node:events";
import { Worker } from "node:worker_threads";
import type { ClientJob, ClientReply } from "./client-worker.ts";
import type { Timed } from "./load.ts";

/** The clients' worker thread (`client-worker.ts`), one job at a time. */
export class ClientThread implements AsyncDisposable {
  readonly #worker = new Worker(new URL("./client-worker.ts", import.meta.url));
  #busy = false;

  /** Runs `job` on the client thread: its timing and the thread's CPU time for it. */
  async run(job: ClientJob): Promise<{ timed: Timed; threadCpuMs: number }> {
    if (this.#busy) throw new Error("the client thread runs one job at a time");
    this.#busy = true;
    try {
      this.#worker.postMessage(job);
      const [reply] = (await once(this.#worker, "message")) as [ClientReply];
      if (!reply.ok) throw new Error(`client thread: ${reply.error}`);
      return reply;
    } finally {
      this.#busy = false;
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#worker.terminate();
  }
}
