/** Socket-level failure codes from Node's net and dns modules: the peer is unreachable. */
const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** Whether `code` (an `err.code`) says the network, not the request, failed. */
export function isNetworkErrorCode(code: unknown): boolean {
  return typeof code === "string" && networkCodes.has(code);
}
