import type { RequestHandler } from "@kindred/runtime";

/**
 * `GET /v1/realtime` is where WebSocket clients will connect (issue 7). Until that is built the
 * endpoint says so plainly — 501 with a Connect-style `unimplemented` body — rather than
 * accepting sockets that would never carry an event.
 */
export const websocketEndpoint: RequestHandler = (req, res) => {
  const path = (req.url ?? "/").split("?")[0];
  const [status, code, message] =
    path === "/v1/realtime"
      ? [501, "unimplemented", "realtime subscriptions are not available yet"]
      : [404, "not_found", "no such route"];
  const body = JSON.stringify({ code, message });
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
};
