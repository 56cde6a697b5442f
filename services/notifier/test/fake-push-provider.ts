import type { PushMessage, PushPlatform, PushProvider, PushResult } from "../src/push/types.ts";

/**
 * An in-memory push provider: records every message it is asked to send and answers with the
 * scripted results (per token first, then in order), `sent` when nothing is scripted.
 */
export class FakePushProvider implements PushProvider {
  readonly platform: PushPlatform;
  /** Every attempt, in the order it was made. */
  readonly messages: PushMessage[] = [];
  readonly #script: PushResult[] = [];
  readonly #byToken = new Map<string, PushResult[]>();
  #sent = 0;

  constructor(platform: PushPlatform) {
    this.platform = platform;
  }

  /** The next sends (to any token) answer these, in order. */
  answer(...results: PushResult[]): void {
    this.#script.push(...results);
  }

  /** The next sends to `token` answer these, in order. */
  answerFor(token: string, ...results: PushResult[]): void {
    this.#byToken.set(token, [...(this.#byToken.get(token) ?? []), ...results]);
  }

  /** The messages sent to one token. */
  to(token: string): PushMessage[] {
    return this.messages.filter((m) => m.token === token);
  }

  async send(message: PushMessage): Promise<PushResult> {
    this.messages.push(structuredClone(message));
    const scripted = this.#byToken.get(message.token)?.shift() ?? this.#script.shift();
    if (scripted !== undefined) return scripted;
    this.#sent += 1;
    return { outcome: "sent", providerId: `${this.platform}-${this.#sent}` };
  }
}
