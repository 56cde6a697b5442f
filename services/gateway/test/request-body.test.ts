// Next to its module for now: services/gateway/test is being reworked in parallel; move it there.
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { sendBody } from "../src/request-body.ts";

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

async function listen(server: Server): Promise<string> {
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** An upstream that answers what it received, and a hop in front of it that uses `sendBody`. */
async function hop(maxHeldBytes: number) {
  const upstream = await listen(
    createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      res.end(JSON.stringify({ headers: req.headers, body: Buffer.concat(chunks).toString() }));
    }),
  );
  return listen(
    createServer((req, res) => {
      // As the proxy does: the connection's own headers stay behind (`hopByHop`).
      const { host, connection, "transfer-encoding": coding, ...headers } = req.headers;
      const forwarded = request(upstream, { method: req.method, headers });
      forwarded.on("response", (answer) => answer.pipe(res));
      sendBody(req, forwarded, maxHeldBytes);
    }),
  );
}

/** Sends `parts` one write at a time, chunked unless `length` is set. */
async function send(url: string, parts: string[], length?: number) {
  const req = request(url, {
    method: "POST",
    headers: length === undefined ? {} : { "content-length": length },
  });
  const response = once(req, "response") as Promise<[AsyncIterable<Buffer>]>;
  for (const part of parts) {
    req.write(part);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  req.end();
  const [res] = await response;
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString()) as {
    headers: IncomingHttpHeaders;
    body: string;
  };
}

describe("sendBody", () => {
  it("sends a chunked body that fits with its length", async () => {
    const url = await hop(1_024);
    const { headers, body } = await send(url, ["a small ", "unary ", "call"]);
    expect(body).toBe("a small unary call");
    expect(headers["content-length"]).toBe("18");
    expect(headers["transfer-encoding"]).toBeUndefined();
  });

  it("streams a chunked body on, chunked, once it outgrows what is held", async () => {
    const url = await hop(16);
    const parts = ["0123456789", "abcdefghij", "klmnopqrst", "uvwxyz"];
    const { headers, body } = await send(url, parts);
    expect(body).toBe(parts.join(""));
    expect(headers["transfer-encoding"]).toBe("chunked");
    expect(headers["content-length"]).toBeUndefined();
  });

  it("pipes a body that has a length as it is", async () => {
    const url = await hop(4);
    const { headers, body } = await send(url, ["longer than ", "four bytes"], 22);
    expect(body).toBe("longer than four bytes");
    expect(headers["content-length"]).toBe("22");
  });
});
