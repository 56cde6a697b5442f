import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** The categories of the OpenAI moderation API (omni models). */
export const moderationCategories = [
  "harassment",
  "harassment/threatening",
  "hate",
  "hate/threatening",
  "illicit",
  "illicit/violent",
  "self-harm",
  "self-harm/intent",
  "self-harm/instructions",
  "sexual",
  "sexual/minors",
  "violence",
  "violence/graphic",
] as const;

export type ModerationCategory = (typeof moderationCategories)[number];
export type Scores = Partial<Record<ModerationCategory, number>>;

export interface ReceivedClassification {
  /** The `Authorization` header as sent. */
  authorization: string | undefined;
  contentType: string | undefined;
  /** The parsed JSON body (`{ model, input }`), or the raw text if it was not JSON. */
  body: unknown;
}

export interface FakeClassifierOptions {
  /** When set, a request without `Authorization: Bearer <apiKey>` gets OpenAI's 401. */
  apiKey?: string;
  /** A category scoring this or more is `true` in `categories`: the provider's own cut-off. */
  flagAt?: number;
}

/** What the next requests get instead of a classification, one entry per request. */
type Scripted =
  | { kind: "status"; status: number; headers: Record<string, string> }
  | { kind: "raw"; status: number; body: string }
  | { kind: "hang" };

interface ScoreRule {
  substring: string;
  scores: Scores;
  flagged: readonly ModerationCategory[];
}

const lowScore = 0.0001;

function send(res: ServerResponse, status: number, body: string, headers = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(body);
}

/**
 * A local classifier speaking the OpenAI moderation API (`POST /v1/moderations`), scriptable:
 * scores per input substring, failures, hangs and malformed answers for the next requests. It
 * records every request (with its `Authorization` header) so tests can assert what was sent,
 * or that nothing was.
 */
export class FakeClassifier implements AsyncDisposable {
  readonly #server: Server;
  readonly #options: FakeClassifierOptions;
  readonly #rules: ScoreRule[] = [];
  readonly #script: Scripted[] = [];
  readonly #waiters: { count: number; resolve: () => void }[] = [];
  /** Every request received, in order, whatever it was answered. */
  readonly requests: ReceivedClassification[] = [];
  /** The URL to configure as the classifier endpoint. */
  endpoint = "";

  private constructor(options: FakeClassifierOptions) {
    this.#options = options;
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) send(res, 500, JSON.stringify({ error: { message: String(err) } }));
      });
    });
  }

  static async start(options: FakeClassifierOptions = {}): Promise<FakeClassifier> {
    const fake = new FakeClassifier(options);
    await new Promise<void>((resolve) => fake.#server.listen(0, "127.0.0.1", resolve));
    const { port } = fake.#server.address() as AddressInfo;
    fake.endpoint = `http://127.0.0.1:${port}/v1/moderations`;
    return fake;
  }

  get requestCount(): number {
    return this.requests.length;
  }

  /**
   * Inputs containing `substring` get these scores (over those of earlier matching rules);
   * categories no rule mentions score next to nothing. `flagged` marks categories `true`
   * whatever their score, as the provider does by its own judgement.
   */
  scoreWhen(
    substring: string,
    scores: Scores,
    options: { flagged?: readonly ModerationCategory[] } = {},
  ): this {
    this.#rules.push({ substring, scores, flagged: options.flagged ?? [] });
    return this;
  }

  /** The next `count` requests get `status` (with `headers`, e.g. `retry-after`). */
  failNext(count: number, status: number, headers: Record<string, string> = {}): this {
    for (let i = 0; i < count; i++) this.#script.push({ kind: "status", status, headers });
    return this;
  }

  /** The next `count` requests are never answered (until the client gives up or we close). */
  hangNext(count = 1): this {
    for (let i = 0; i < count; i++) this.#script.push({ kind: "hang" });
    return this;
  }

  /** The next `count` requests get this body as is: for malformed answers. */
  respondNext(count: number, body: string | object, status = 200): this {
    const text = typeof body === "string" ? body : JSON.stringify(body);
    for (let i = 0; i < count; i++) this.#script.push({ kind: "raw", status, body: text });
    return this;
  }

  /** Resolves once `count` requests in total have arrived. */
  received(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ count, resolve }));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // recorded as text; refused below
    }
    this.requests.push({
      authorization: req.headers.authorization,
      contentType: req.headers["content-type"],
      body,
    });
    for (const waiter of this.#waiters.filter((w) => this.requests.length >= w.count)) {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve();
    }

    if (req.method !== "POST" || req.url !== "/v1/moderations") {
      send(res, 404, JSON.stringify({ error: { message: "not found" } }));
      return;
    }
    const { apiKey } = this.#options;
    if (apiKey !== undefined && req.headers.authorization !== `Bearer ${apiKey}`) {
      send(
        res,
        401,
        JSON.stringify({
          error: {
            message: "Incorrect API key provided.",
            type: "invalid_request_error",
            param: null,
            code: "invalid_api_key",
          },
        }),
      );
      return;
    }
    const scripted = this.#script.shift();
    if (scripted?.kind === "hang") return;
    if (scripted?.kind === "raw") {
      send(res, scripted.status, scripted.body);
      return;
    }
    if (scripted?.kind === "status") {
      const error = {
        error: { message: `scripted HTTP ${scripted.status}`, type: "server_error" },
      };
      send(res, scripted.status, JSON.stringify(error), scripted.headers);
      return;
    }
    const request = body as { model?: unknown; input?: unknown };
    if (
      !req.headers["content-type"]?.startsWith("application/json") ||
      typeof request.model !== "string" ||
      typeof request.input !== "string"
    ) {
      send(res, 400, JSON.stringify({ error: { message: "invalid request", type: "invalid" } }));
      return;
    }
    send(res, 200, JSON.stringify(this.#classify(request.model, request.input)));
  }

  #classify(model: string, input: string) {
    const scores = Object.fromEntries(moderationCategories.map((c) => [c, lowScore])) as Record<
      ModerationCategory,
      number
    >;
    const forced = new Set<ModerationCategory>();
    for (const rule of this.#rules.filter((r) => input.includes(r.substring))) {
      Object.assign(scores, rule.scores);
      for (const category of rule.flagged) forced.add(category);
    }
    const flagAt = this.#options.flagAt ?? 0.5;
    const categories = Object.fromEntries(
      moderationCategories.map((c) => [c, scores[c] >= flagAt || forced.has(c)]),
    );
    return {
      id: `modr-${this.requests.length}`,
      model,
      results: [
        {
          flagged: Object.values(categories).some(Boolean),
          categories,
          category_scores: scores,
        },
      ],
    };
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
