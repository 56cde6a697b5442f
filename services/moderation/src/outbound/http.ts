/** How a call to an outside HTTP service failed. */
export type CallFailureKind = "timeout" | "network" | "http" | "invalid_response";

const reasons = {
  timeout: "timeout",
  network: "network error",
  invalid_response: "invalid response",
} as const;

/**
 * A failed call to an outside HTTP service. It never carries a request or response body (which
 * may hold user text or echo a credential), so it is safe to log whole.
 */
export class OutboundCallError extends Error {
  override readonly name = "OutboundCallError";
  readonly kind: CallFailureKind;
  /** The HTTP status, for `kind: "http"`. */
  readonly status: number | undefined;
  /** How long the service asked us to wait (`Retry-After`), when it said. */
  readonly retryAfterMs: number | undefined;

  constructor(
    kind: CallFailureKind,
    message: string,
    options: { status?: number; retryAfterMs?: number | undefined; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** Short and stable, for a case note or a log line: "timeout", "HTTP 503". */
  get reason(): string {
    return this.kind === "http" ? `HTTP ${this.status}` : reasons[this.kind];
  }
}

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

export interface PostOptions {
  headers?: Record<string, string>;
  /** For the whole exchange, response body included. */
  timeoutMs: number;
  /** The caller's: when it aborts, its reason is thrown as is (not an `OutboundCallError`). */
  signal?: AbortSignal | undefined;
}

/**
 * POSTs `body` as JSON and reads the whole reply, whatever its status. Throws
 * `OutboundCallError` for a timeout or a network failure; the caller reads the status.
 */
export async function postJson(url: string, body: unknown, options: PostOptions): Promise<Reply> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const caller = options.signal;
  const signal = caller === undefined ? timeout : AbortSignal.any([caller, timeout]);
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        ...options.headers,
      },
      body: JSON.stringify(body),
      // A redirect answers as its 3xx status: an API that redirects a POST is misconfigured.
      redirect: "manual",
      signal,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text };
  } catch (err) {
    if (caller?.aborted) throw caller.reason;
    if (timeout.aborted) {
      throw new OutboundCallError("timeout", `no complete answer within ${options.timeoutMs} ms`, {
        cause: err,
      });
    }
    const code = networkCode(err);
    const message = code === undefined ? "network error" : `network error (${code})`;
    throw new OutboundCallError("network", message, { cause: err });
  }
}

/** The JSON of a reply body; `OutboundCallError("invalid_response")` when it is not JSON. */
export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new OutboundCallError("invalid_response", "response body is not JSON", { cause: err });
  }
}

/**
 * A `Retry-After` header in milliseconds from now: delay-seconds or an HTTP date (in the past
 * is 0); `undefined` when absent or unreadable.
 */
export function retryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The socket error code (ECONNREFUSED, UND_ERR_SOCKET) under undici's "fetch failed". */
function networkCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}
