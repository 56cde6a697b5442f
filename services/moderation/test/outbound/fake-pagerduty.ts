import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakePagerDutyOptions {
  /** When set, events for another routing key are refused (400), as for an unknown key. */
  routingKey?: string;
}

export interface ReceivedPage {
  /** The body exactly as sent, to check nothing is in it that should not be. */
  raw: string;
  /** The parsed event (`undefined` if the body was not JSON). */
  event: unknown;
}

const severities = new Set(["critical", "error", "warning", "info"]);
const actions = new Set(["trigger", "acknowledge", "resolve"]);

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** What PagerDuty's Events API v2 checks of an event; the reasons it gives, if any. */
function problemsOf(event: unknown, routingKey: string | undefined): string[] {
  if (typeof event !== "object" || event === null) return ["Event object is not JSON"];
  const e = event as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof e.routing_key !== "string" || e.routing_key.length !== 32) {
    problems.push("Length of 'routing_key' is incorrect (should be 32 characters)");
  } else if (routingKey !== undefined && e.routing_key !== routingKey) {
    problems.push("Invalid routing key");
  }
  if (typeof e.event_action !== "string" || !actions.has(e.event_action)) {
    problems.push("'event_action' is invalid");
  }
  if (e.dedup_key !== undefined && (typeof e.dedup_key !== "string" || e.dedup_key.length > 255)) {
    problems.push("'dedup_key' is invalid");
  }
  if (e.event_action === "trigger") {
    const p = e.payload as Record<string, unknown> | undefined;
    if (typeof p !== "object" || p === null) return [...problems, "'payload' is missing"];
    if (typeof p.summary !== "string" || p.summary === "" || p.summary.length > 1024) {
      problems.push("'payload.summary' is missing or longer than 1024 characters");
    }
    if (typeof p.source !== "string" || p.source === "")
      problems.push("'payload.source' is missing");
    if (typeof p.severity !== "string" || !severities.has(p.severity)) {
      problems.push("'payload.severity' is invalid");
    }
    if (p.timestamp !== undefined && Number.isNaN(Date.parse(String(p.timestamp)))) {
      problems.push("'payload.timestamp' is not a valid ISO 8601 timestamp");
    }
  }
  if (e.links !== undefined) {
    const ok =
      Array.isArray(e.links) &&
      e.links.every((l) => typeof l === "object" && l !== null && typeof l.href === "string");
    if (!ok) problems.push("'links' is invalid");
  }
  return problems;
}

/**
 * A local PagerDuty Events API v2 (`POST /v2/enqueue`) that validates events as PagerDuty
 * does, records every request, and can be told to fail the next requests with a status.
 */
export class FakePagerDuty implements AsyncDisposable {
  readonly #server: Server;
  readonly #options: FakePagerDutyOptions;
  readonly #failures: number[] = [];
  /** Every request received, in order, accepted or not. */
  readonly requests: ReceivedPage[] = [];
  /** The events accepted (answered 202), in order. */
  readonly events: unknown[] = [];
  /** The base URL to configure (`/v2/enqueue` is appended by the client). */
  url = "";

  private constructor(options: FakePagerDutyOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) send(res, 500, { status: "error", message: String(err) });
      });
    });
  }

  static async start(options: FakePagerDutyOptions = {}): Promise<FakePagerDuty> {
    const fake = new FakePagerDuty(options);
    await new Promise<void>((resolve) => fake.#server.listen(0, "127.0.0.1", resolve));
    fake.url = `http://127.0.0.1:${(fake.#server.address() as AddressInfo).port}`;
    return fake;
  }

  get requestCount(): number {
    return this.requests.length;
  }

  /** The next `count` requests get `status` (429 and 5xx with PagerDuty's bodies). */
  failNext(count: number, status: number): this {
    for (let i = 0; i < count; i++) this.#failures.push(status);
    return this;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let event: unknown;
    try {
      event = JSON.parse(raw);
    } catch {
      event = undefined;
    }
    this.requests.push({ raw, event });

    if (req.method !== "POST" || req.url !== "/v2/enqueue") {
      send(res, 404, { status: "not found" });
      return;
    }
    const failure = this.#failures.shift();
    if (failure !== undefined) {
      send(
        res,
        failure,
        failure === 429
          ? {
              status: "throttle event",
              message: "Requests for this service are arriving too quickly.",
            }
          : { status: "error", message: `scripted HTTP ${failure}` },
      );
      return;
    }
    if (!req.headers["content-type"]?.startsWith("application/json")) {
      send(res, 400, { status: "invalid event", message: "Content-Type must be application/json" });
      return;
    }
    const problems = problemsOf(event, this.#options.routingKey);
    if (problems.length > 0) {
      send(res, 400, {
        status: "invalid event",
        message: "Event object is invalid",
        errors: problems,
      });
      return;
    }
    this.events.push(event);
    send(res, 202, {
      status: "success",
      message: "Event processed",
      dedup_key: (event as { dedup_key?: string }).dedup_key ?? `generated-${this.events.length}`,
    });
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
