import type { UpgradeHandler } from "@kindred/runtime";

/**
 * WebSocket upgrades (`GET /v1/realtime`) are routed to realtime once it serves them
 * (issue 7); until then the gateway answers 501 rather than hanging the client.
 */
export const refuseUpgrade: UpgradeHandler = (_req, socket) => {
  const body = JSON.stringify({ code: "unimplemented", message: "realtime is not available yet" });
  socket.end(
    `HTTP/1.1 501 Not Implemented\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
};
