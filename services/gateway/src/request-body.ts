import type { ClientRequest, IncomingMessage } from "node:http";

/** A body sent without a length is held up to this size before it is streamed on instead. */
export const maxHeldBodyBytes = 64 * 1024;

/**
 * Sends the caller's request body to the upstream. A body with a `Content-Length` (or none) is
 * piped as it is. A chunked one (Node's Connect client sends unary calls that way) is held until
 * it ends and sent with its length: one write upstream instead of the chunks and then the
 * terminating chunk. One that grows past `maxHeldBytes` is streamed on, chunked, from there.
 */
export function sendBody(
  req: IncomingMessage,
  upstream: ClientRequest,
  maxHeldBytes = maxHeldBodyBytes,
): void {
  if (req.headers["transfer-encoding"] === undefined) {
    req.pipe(upstream);
    return;
  }
  const held: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer) => {
    held.push(chunk);
    size += chunk.length;
    if (size <= maxHeldBytes) return;
    req.off("data", onData).off("end", onEnd);
    for (const part of held) upstream.write(part);
    req.pipe(upstream);
  };
  const onEnd = () => {
    upstream.setHeader("content-length", size);
    upstream.end(held.length === 1 ? held[0] : Buffer.concat(held, size));
  };
  req.on("data", onData).on("end", onEnd);
}
