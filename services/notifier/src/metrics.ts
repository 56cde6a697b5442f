import { Counter, type Registry } from "prom-client";
import type { KindName } from "./db/schema.ts";

/**
 * What became of deliveries: `sent`, `failed`, `dropped` (a device, recipient or subject that
 * may not or cannot get it; a notification dropped before it had any delivery counts once),
 * `retried` (the provider asked to try again) and `deferred` (quiet hours).
 */
export type DeliveryOutcome = "sent" | "failed" | "dropped" | "retried" | "deferred";

/** Notifier's own metrics; the queue's depth is a gauge of the dispatcher. */
export class NotifierMetrics {
  readonly #deliveries: Counter<"kind" | "outcome">;

  constructor(registry: Registry) {
    this.#deliveries = new Counter({
      name: "kindred_notifier_deliveries_total",
      help: "Push deliveries by notification kind and outcome (sent, failed, dropped, retried, deferred).",
      labelNames: ["kind", "outcome"],
      registers: [registry],
    });
  }

  delivery(kind: KindName, outcome: DeliveryOutcome, count = 1): void {
    if (count > 0) this.#deliveries.inc({ kind, outcome }, count);
  }
}
