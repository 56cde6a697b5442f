import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  constants,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";
import { rootCertificates } from "node:tls";
import type { Logger } from "@kindred/resilience";

/** Why `session.request` throws when the connection, not the request, is the trouble. */
const unusableSessionCodes = new Set([
  "ERR_HTTP2_INVALID_SESSION",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_OUT_OF_STREAMS",
  "ERR_HTTP2_SOCKET_UNBOUND",
]);

/** The request never got an answer: safe to try again, on a new connection if need be. */
export class ApnsTransportError extends Error {
  override readonly name = "ApnsTransportError";
}

export interface ApnsReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface ApnsConnectionOptions {
  /** `https://api.push.apple.com` or `https://api.sandbox.push.apple.com` (a fake in tests). */
  baseUrl: string;
  /** A CA to trust besides the public ones (the fake's self-signed certificate in tests). */
  ca?: string;
  logger: Pick<Logger, "info" | "warn">;
}

/**
 * One long-lived HTTP/2 connection to APNs, as Apple asks (a connection per request reads as a
 * denial of service). Opened on first use and again after it closes, fails or receives GOAWAY;
 * after a request times out, a PING tells a dead connection from a slow answer.
 */
export class ApnsConnection {
  readonly #origin: string;
  readonly #ca: string[] | undefined;
  readonly #logger: Pick<Logger, "info" | "warn">;
  readonly #open = new Set<ClientHttp2Session>();
  readonly #probing = new WeakSet<ClientHttp2Session>();
  #current: ClientHttp2Session | undefined;
  #closed = false;

  constructor(options: ApnsConnectionOptions) {
    const url = new URL(options.baseUrl);
    if (url.protocol !== "https:") throw new TypeError("the APNs base URL must be https");
    this.#origin = url.origin;
    this.#ca = options.ca === undefined ? undefined : [...rootCertificates, options.ca];
    this.#logger = options.logger;
  }

  /** One request on the shared connection; rejects with `ApnsTransportError`, or on abort. */
  post(
    path: string,
    headers: OutgoingHttpHeaders,
    body: string,
    { timeoutMs, signal }: { timeoutMs: number; signal?: AbortSignal | undefined },
  ): Promise<ApnsReply> {
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      let session: ClientHttp2Session;
      let stream: ClientHttp2Stream;
      try {
        session = this.#session();
        stream = session.request({ ...headers, ":method": "POST", ":path": path });
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (typeof code !== "string" || !unusableSessionCodes.has(code)) {
          reject(err);
          return;
        }
        // The session was closing (GOAWAY just in): the next request opens a new one.
        this.#forget(this.#current);
        reject(new ApnsTransportError("APNs connection unusable", { cause: err }));
        return;
      }

      let settled = false;
      const settle = (done: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        done();
      };
      const onAbort = () => {
        stream.close(constants.NGHTTP2_CANCEL);
        settle(() => reject(signal?.reason));
      };
      const timer = setTimeout(() => {
        stream.close(constants.NGHTTP2_CANCEL);
        this.#probe(session, timeoutMs);
        settle(() => reject(new ApnsTransportError(`no answer within ${timeoutMs} ms`)));
      }, timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });

      let status = 0;
      let replyHeaders: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        replyHeaders = h;
      });
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        settle(() =>
          status === 0
            ? reject(new ApnsTransportError("APNs ended the stream without a status"))
            : resolve({ status, headers: replyHeaders, body: text }),
        );
      });
      stream.on("error", (err) => {
        settle(() => reject(new ApnsTransportError(`APNs request failed: ${err.message}`)));
      });
      stream.on("close", () => {
        const code = stream.rstCode;
        settle(() =>
          reject(new ApnsTransportError(`APNs closed the stream (code ${code}) before answering`)),
        );
      });
      stream.end(body);
    });
  }

  /** Closes the connection once its requests are answered or time out. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#current = undefined;
    await Promise.all(
      [...this.#open].map(
        (session) =>
          new Promise<void>((resolve) => {
            if (session.destroyed) return resolve();
            session.once("close", () => resolve());
            session.close();
          }),
      ),
    );
  }

  #session(): ClientHttp2Session {
    const current = this.#current;
    if (current !== undefined && !current.closed && !current.destroyed) return current;
    if (this.#closed) throw new ApnsTransportError("the APNs provider is closed");
    const session = connect(this.#origin, this.#ca === undefined ? {} : { ca: this.#ca });
    this.#open.add(session);
    this.#current = session;
    session.on("error", (err) => {
      this.#forget(session);
      this.#logger.warn({ provider: "apns", err }, "APNs connection failed: will reconnect");
    });
    session.on("goaway", (errorCode, _lastStreamId, data) => {
      this.#forget(session);
      this.#logger.info(
        { provider: "apns", errorCode, reason: goawayReason(data) },
        "APNs sent GOAWAY: will reconnect",
      );
    });
    session.on("close", () => {
      this.#forget(session);
      this.#open.delete(session);
    });
    return session;
  }

  #forget(session: ClientHttp2Session | undefined): void {
    if (session !== undefined && this.#current === session) this.#current = undefined;
  }

  /** A session that does not answer a PING within `timeoutMs` is dead: drop it. */
  #probe(session: ClientHttp2Session, timeoutMs: number): void {
    if (session.destroyed || session.closed || this.#probing.has(session)) return;
    this.#probing.add(session);
    const giveUp = () => {
      this.#probing.delete(session);
      if (session.destroyed) return;
      this.#forget(session);
      this.#logger.warn({ provider: "apns" }, "APNs connection does not answer: reconnecting");
      session.destroy();
    };
    const timer = setTimeout(giveUp, timeoutMs);
    timer.unref();
    let sent: boolean;
    try {
      sent = session.ping((err) => {
        clearTimeout(timer);
        if (err !== null) giveUp();
        else this.#probing.delete(session);
      });
    } catch {
      sent = false;
    }
    if (!sent) {
      clearTimeout(timer);
      this.#probing.delete(session);
    }
  }
}

/** Apple puts `{"reason": …}` in a GOAWAY's debug data. */
function goawayReason(data: Buffer | undefined): string | undefined {
  if (data === undefined || data.length === 0) return undefined;
  try {
    const parsed = JSON.parse(data.toString("utf8")) as { reason?: unknown };
    return typeof parsed.reason === "string" ? parsed.reason : undefined;
  } catch {
    return data.toString("utf8").slice(0, 100);
  }
}
