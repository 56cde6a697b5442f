/**
 * The bench's mobile clients, on their own thread so that their event loop is not the services'
 * one and their CPU time is counted apart (`process.threadCpuUsage`). Runs one job at a time:
 * a closed loop of Connect calls (HTTP/1.1 keep-alive, binary protobuf), one client per token.
 */
import { Agent } from "node:http";
import { parentPort } from "node:worker_threads";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { PostService } from "@kindred/proto/content/v1";
import { postBody } from "./fixture.ts";
import { closedLoop, type LoadShape, type Timed } from "./load.ts";

export type ClientJob = LoadShape & {
  baseUrl: string;
  /** Worker `w` calls with `tokens[w % tokens.length]`. */
  tokens: string[];
} & ({ call: "createPost"; circleId: string } | { call: "listFeed" });

export type ClientReply =
  | { ok: true; timed: Timed; threadCpuMs: number }
  | { ok: false; error: string };

const agents = new Map<string, Agent>();
const clients = new Map<string, Client<typeof PostService>>();

/** One client per base URL and token, kept across jobs (their sockets stay open). */
function clientFor(baseUrl: string, token: string, sockets: number): Client<typeof PostService> {
  const key = `${baseUrl} ${token}`;
  let client = clients.get(key);
  if (client === undefined) {
    let agent = agents.get(baseUrl);
    if (agent === undefined) {
      agent = new Agent({ keepAlive: true, maxSockets: sockets });
      agents.set(baseUrl, agent);
    }
    const transport = createConnectTransport({
      baseUrl,
      httpVersion: "1.1",
      useBinaryFormat: true,
      nodeOptions: { agent },
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ],
    });
    client = createClient(PostService, transport);
    clients.set(key, client);
  }
  return client;
}

function callOf(job: ClientJob): (worker: number) => Promise<void> {
  const pick = (w: number) =>
    clientFor(job.baseUrl, job.tokens[w % job.tokens.length] ?? "", job.concurrency);
  if (job.call === "createPost") {
    const { circleId } = job;
    return async (w) => {
      const { post } = await pick(w).createPost({ circleId, body: postBody });
      if (post === undefined) throw new Error("CreatePost answered without a post");
    };
  }
  return async (w) => {
    const { posts } = await pick(w).listFeed({});
    // A reader sees every feed circle: an empty page means the setup went wrong.
    if (posts.length === 0) throw new Error("ListFeed answered an empty page");
  };
}

const port = parentPort;
if (port === null) throw new Error("client-worker.ts runs as a worker thread");
port.on("message", (job: ClientJob) => {
  void (async (): Promise<ClientReply> => {
    try {
      const before = process.threadCpuUsage();
      const timed = await closedLoop(callOf(job), job);
      const used = process.threadCpuUsage(before);
      return { ok: true, timed, threadCpuMs: (used.user + used.system) / 1_000 };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
    }
  })().then((reply) => port.postMessage(reply));
});
