import { timestampDate } from "@bufbuild/protobuf/wkt";
import { onCommit } from "@kindred/database";
import { contentEvents, contentStream } from "@kindred/event-catalog";
import type { ConsumerSpec, EventType, HandlerTransaction, ReceivedEvent } from "@kindred/events";
import type { Transaction } from "kysely";
import type { ContentKind, ModerationDatabase } from "../db/schema.ts";

/** What the content consumers need besides their transaction. */
export interface ContentItemDeps {
  /** Called after an item is queued and committed: the scanner starts at once. */
  wake(): void;
}

interface ItemChange {
  kind: ContentKind;
  contentId: string;
  postId: string;
  circleId: string;
  authorId: string;
  body: string;
  at: Date;
  /** The post's version (0 for responses, which are not edited). */
  version: bigint;
}

/**
 * Records the item (targets of reports, snapshots, the spam rules' history) and queues it for
 * the scanner, in the inbox transaction: a redelivery changes nothing. An edit applies only
 * when newer than what is stored.
 */
async function record(
  handlerTrx: HandlerTransaction,
  eventId: string,
  change: ItemChange,
  deps: ContentItemDeps,
) {
  const trx = handlerTrx as Transaction<ModerationDatabase>;
  await trx
    .insertInto("content_item")
    .values({
      content_kind: change.kind,
      content_id: change.contentId,
      post_id: change.postId,
      circle_id: change.circleId,
      author_id: change.authorId,
      body: change.body,
      fingerprint: "",
      created_at: change.at,
      updated_at: change.at,
      version: String(change.version),
    })
    .onConflict((oc) =>
      oc
        .columns(["content_kind", "content_id"])
        .doUpdateSet((eb) => ({
          body: eb.ref("excluded.body"),
          updated_at: eb.ref("excluded.updated_at"),
          version: eb.ref("excluded.version"),
        }))
        .where("content_item.version", "<", (eb) => eb.ref("excluded.version")),
    )
    .execute();
  await trx
    .insertInto("scan_item")
    .values({
      event_id: eventId,
      content_kind: change.kind,
      content_id: change.contentId,
      body: change.body,
      lease_until: null,
      scanned_at: null,
    })
    .execute();
  onCommit(trx, () => deps.wake());
}

const when = (t: Parameters<typeof timestampDate>[0] | undefined, fallback: Date) =>
  t === undefined ? fallback : timestampDate(t);

type Scanned = "postCreated" | "postUpdated" | "responseCreated";
type Schema<K extends Scanned> = (typeof contentEvents)[K]["schema"];

/** One durable consumer per scanned event type: its name, and how it reads as an item change. */
function itemConsumer<K extends Scanned>(
  key: K,
  name: string,
  changeOf: (message: ReceivedEvent<Schema<K>>["message"], occurredAt: Date) => ItemChange,
  deps: ContentItemDeps,
): ConsumerSpec<Schema<K>> {
  return {
    name,
    stream: contentStream.name,
    event: contentEvents[key] as EventType<Schema<K>>,
    handle: (event, trx) =>
      record(trx, event.metadata.id, changeOf(event.message, event.metadata.occurredAt), deps),
  };
}

/**
 * Every new post, edited post and new response passes the rules pipeline right after it became
 * visible (ADR 16 says why after, not before).
 */
export function contentItemConsumers(deps: ContentItemDeps) {
  return [
    itemConsumer(
      "postCreated",
      "moderation-post-created",
      (m, at) => ({
        kind: "post",
        contentId: m.postId,
        postId: m.postId,
        circleId: m.circleId,
        authorId: m.authorId,
        body: m.body,
        at: when(m.createdAt, at),
        version: m.version,
      }),
      deps,
    ),
    itemConsumer(
      "postUpdated",
      "moderation-post-updated",
      (m, at) => ({
        kind: "post",
        contentId: m.postId,
        postId: m.postId,
        circleId: m.circleId,
        authorId: m.authorId,
        body: m.body,
        at: when(m.updatedAt, at),
        version: m.version,
      }),
      deps,
    ),
    itemConsumer(
      "responseCreated",
      "moderation-response-created",
      (m, at) => ({
        kind: "response",
        contentId: m.responseId,
        postId: m.postId,
        circleId: m.circleId,
        authorId: m.authorId,
        body: m.body,
        at: when(m.createdAt, at),
        // Responses are not edited: one version.
        version: 1n,
      }),
      deps,
    ),
  ] as const;
}
