import type { Executor } from "./access.ts";
import type { ContentKind, TargetKindName } from "./db/schema.ts";

/** A report's or case's target, with where it lives and its text as evidence. */
export interface TargetInfo {
  kind: TargetKindName;
  id: string;
  /** The post itself, or the post a response belongs to; null for users and circles. */
  postId: string | null;
  circleId: string | null;
  /** The author of the content, or the user reported; null for circles. */
  userId: string | null;
  /** The content's text, the user's display name, or the circle's name and description. */
  text: string;
}

export const isContent = (kind: TargetKindName): kind is ContentKind =>
  kind === "post" || kind === "response";

/**
 * What moderation knows of a target from the other services' events; `undefined` when it knows
 * no such thing (never existed, deleted, or its event has not arrived yet).
 */
export async function resolveTarget(
  db: Executor,
  kind: TargetKindName,
  id: string,
): Promise<TargetInfo | undefined> {
  if (isContent(kind)) {
    const row = await db
      .selectFrom("content_item")
      .select(["post_id", "circle_id", "author_id", "body"])
      .where("content_kind", "=", kind)
      .where("content_id", "=", id)
      .executeTakeFirst();
    return (
      row && {
        kind,
        id,
        postId: row.post_id,
        circleId: row.circle_id,
        userId: row.author_id,
        text: row.body,
      }
    );
  }
  if (kind === "user") {
    const row = await db
      .selectFrom("account")
      .select("display_name")
      .where("user_id", "=", id)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
    return row && { kind, id, postId: null, circleId: null, userId: id, text: row.display_name };
  }
  const row = await db
    .selectFrom("circle_info")
    .select(["name", "description"])
    .where("circle_id", "=", id)
    .where("archived_at", "is", null)
    .executeTakeFirst();
  return (
    row && {
      kind,
      id,
      postId: null,
      circleId: id,
      userId: null,
      text: row.description === "" ? row.name : `${row.name}\n\n${row.description}`,
    }
  );
}
