import { PermanentFailure } from "@kindred/events";
import { createResiliencePolicy, type Logger } from "@kindred/resilience";
import type { Registry } from "prom-client";
import { OutboundCallError, postJson } from "./http.ts";
import { pagerMetrics } from "./outbound-metrics.ts";

export type PageSeverity = "critical" | "error" | "warning" | "info";

/**
 * What a page says. Only ids, the reason, rule ids and priority: the post's text, the author's
 * name and anything else a person wrote stay in Kindred (PagerDuty is a third party, and pages
 * end up on lock screens). Build it with `caseAlert` to keep it that way.
 */
export interface PageAlert {
  /** Also the PagerDuty dedup key. */
  caseId: string;
  /** Cut to PagerDuty's 1024 characters. */
  summary: string;
  severity: PageSeverity;
  circleId?: string;
  reason: string;
  details?: Record<string, string | number | boolean>;
}

export interface Pager {
  /**
   * Triggers an incident for the case. Resolves once PagerDuty accepted the event; throws
   * `PermanentFailure` when it refuses the event as invalid (an event consumer dead-letters it),
   * and any other error when PagerDuty could not be reached after a few retries (the consumer
   * redelivers the event later).
   *
   * The dedup key is the case id, so paging twice for the same case is harmless: PagerDuty
   * folds the second trigger into the open incident. That is what makes at-least-once delivery
   * (a redelivered event, a retry after a lost 202) safe here.
   */
  page(alert: PageAlert, signal?: AbortSignal): Promise<void>;
}

export interface PagerOptions {
  /** `https://events.pagerduty.com` (or `https://events.eu.pagerduty.com`). */
  baseUrl: string;
  /** The integration key of the on-call moderators' service. */
  routingKey: string;
  /** Where a moderator opens a case: the case id is appended (`…/cases/<id>`). */
  caseUrlBase?: string;
  /** For one attempt. */
  timeoutMs?: number;
  retry?: { maxAttempts: number; initialDelayMs: number; maxDelayMs: number };
  breaker?: { consecutiveFailures: number; halfOpenAfterMs: number };
  logger: Logger;
  registry?: Registry;
  /** The event timestamp's clock (tests). */
  now?: () => Date;
}

/** A PagerDuty Events API v2 trigger event. */
export interface PagerDutyEvent {
  routing_key: string;
  event_action: "trigger";
  dedup_key: string;
  payload: {
    summary: string;
    source: string;
    severity: PageSeverity;
    timestamp: string;
    component: string;
    group: string;
    class: string;
    custom_details: Record<string, string | number | boolean>;
  };
  links?: { href: string; text: string }[];
}

const dependency = "pagerduty";
const maxSummary = 1024;
const defaults = {
  timeoutMs: 5_000,
  retry: { maxAttempts: 3, initialDelayMs: 250, maxDelayMs: 2_000 },
  breaker: { consecutiveFailures: 5, halfOpenAfterMs: 30_000 },
};

/** An alert for a moderation case, made only of what may leave Kindred. */
export function caseAlert(c: {
  caseId: string;
  reason: string;
  ruleIds: readonly string[];
  severity: PageSeverity;
  priority?: string;
  circleId?: string;
}): PageAlert {
  const priority = c.priority === undefined ? "" : ` (priority ${c.priority})`;
  const details: Record<string, string> = { rule_ids: c.ruleIds.join(",") };
  if (c.priority !== undefined) details.priority = c.priority;
  return {
    caseId: c.caseId,
    summary: `Moderation case ${c.caseId}: ${c.reason}${priority}`,
    severity: c.severity,
    ...(c.circleId === undefined ? {} : { circleId: c.circleId }),
    reason: c.reason,
    details,
  };
}

/** PagerDuty's own words on a refused event (its `errors`), bounded. */
function refusalOf(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown; errors?: unknown };
    const errors = Array.isArray(body.errors) ? body.errors.map(String).join("; ") : "";
    const said = [body.message, errors].filter((s) => typeof s === "string" && s !== "");
    return said.join(": ").slice(0, 500);
  } catch {
    return "";
  }
}

const isTransient = (err: unknown) =>
  err instanceof OutboundCallError &&
  (err.kind === "timeout" ||
    err.kind === "network" ||
    (err.status !== undefined && (err.status === 429 || err.status >= 500)));

/** A client of the PagerDuty Events API v2 that pages on-call moderators about a case. */
export function createPager(options: PagerOptions): Pager {
  const url = `${new URL(options.baseUrl).href.replace(/\/+$/, "")}/v2/enqueue`;
  if (options.routingKey === "") throw new TypeError("the PagerDuty routing key is empty");
  const caseUrlBase = options.caseUrlBase?.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? defaults.timeoutMs;
  const now = options.now ?? (() => new Date());
  const { logger } = options;
  const metrics = pagerMetrics(options.registry);
  const policy = createResiliencePolicy({
    name: dependency,
    isTransient,
    retry: options.retry ?? defaults.retry,
    breaker: options.breaker ?? defaults.breaker,
    logger,
  });

  function eventOf(alert: PageAlert): PagerDutyEvent {
    const summary =
      alert.summary.length > maxSummary
        ? `${alert.summary.slice(0, maxSummary - 1)}…`
        : alert.summary;
    return {
      routing_key: options.routingKey,
      event_action: "trigger",
      dedup_key: alert.caseId,
      payload: {
        summary,
        source: "kindred-moderation",
        severity: alert.severity,
        timestamp: now().toISOString(),
        component: "moderation",
        group: alert.circleId ?? "platform",
        class: alert.reason,
        custom_details: { ...alert.details, case_id: alert.caseId, reason: alert.reason },
      },
      ...(caseUrlBase === undefined
        ? {}
        : {
            links: [
              { href: `${caseUrlBase}/${encodeURIComponent(alert.caseId)}`, text: "Open case" },
            ],
          }),
    };
  }

  async function send(event: PagerDutyEvent, signal: AbortSignal): Promise<void> {
    const reply = await postJson(url, event, { timeoutMs, signal });
    const { status } = reply;
    if (status >= 200 && status < 300) return;
    if (status === 400 || status === 413 || status === 422) {
      const said = refusalOf(reply.text);
      throw new PermanentFailure(
        `PagerDuty refused the page for case ${event.dedup_key} (HTTP ${status})${said === "" ? "" : `: ${said}`}`,
      );
    }
    // 429 and 5xx are retried; another 4xx (401, 403, 404) is our configuration, not the event:
    // not retried now, but not dead-lettered either, so the event is paged once it is fixed.
    throw new OutboundCallError("http", `PagerDuty answered HTTP ${status}`, { status });
  }

  return {
    async page(alert, signal) {
      const event = eventOf(alert);
      const context = { dependency, caseId: alert.caseId, severity: alert.severity };
      try {
        await policy.execute((attemptSignal) => send(event, attemptSignal), {
          // The dedup key makes a repeated trigger a no-op at PagerDuty.
          idempotent: true,
          signal,
        });
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (err instanceof PermanentFailure) {
          metrics.pages.inc({ outcome: "rejected" });
          logger.error({ ...context, err }, "PagerDuty refused a page: it will not be retried");
        } else if (err instanceof OutboundCallError) {
          // Unwrapped, so not transient: PagerDuty refuses our requests, not this event.
          metrics.pages.inc({ outcome: "failed" });
          logger.error(
            { ...context, err },
            "PagerDuty refused our request: check the pager settings",
          );
        } else {
          metrics.pages.inc({ outcome: "failed" });
          logger.warn({ ...context, err }, "could not page on-call moderators: will retry");
        }
        throw err;
      }
      metrics.pages.inc({ outcome: "sent" });
      logger.info(context, "paged on-call moderators");
    },
  };
}
