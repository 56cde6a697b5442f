import { timestampDate } from "@bufbuild/protobuf/wkt";
import { circlesEvents, circlesStream } from "@kindred/event-catalog";
import type { ConsumerSpec, HandlerTransaction } from "@kindred/events";
import { sql, type Transaction } from "kysely";
import type { ContentDatabase } from "../db/schema.ts";
import { applyMemberChange, type ProjectionDeps } from "./circle-members.ts";

/**
 * The circle projection (`circle_state`): which circles exist, their last applied circle-level
 * `circle_version`, and whether they are archived. Archiving is final (circles has no
 * unarchive), so it applies whatever order it arrives in; other changes apply only when newer.
 */
async function applyCircleVersion(trx: HandlerTransaction, circleId: string, version: bigint) {
  await (trx as Transaction<ContentDatabase>)
    .insertInto("circle_state")
    .values({ circle_id: circleId, version: String(version), archived_at: null })
    .onConflict((oc) =>
      oc
        .column("circle_id")
        .doUpdateSet((eb) => ({
          version: eb.ref("excluded.version"),
          updated_at: sql<Date>`now()`,
        }))
        .where("circle_state.version", "<", (eb) => eb.ref("excluded.version")),
    )
    .execute();
}

/** The creator is the circle's first member and owner. */
export const circleCreatedConsumer = (
  deps: ProjectionDeps,
): ConsumerSpec<(typeof circlesEvents.circleCreated)["schema"]> => ({
  name: "content-circle-created",
  stream: circlesStream.name,
  event: circlesEvents.circleCreated,
  async handle({ message: m, metadata }, trx) {
    await applyCircleVersion(trx, m.circleId, m.circleVersion);
    await applyMemberChange(
      trx,
      {
        circleId: m.circleId,
        userId: m.ownerId,
        role: "owner",
        member: true,
        circleVersion: m.circleVersion,
        at: m.createdAt === undefined ? metadata.occurredAt : timestampDate(m.createdAt),
      },
      deps,
    );
  },
});

export const circleUpdatedConsumer: ConsumerSpec<(typeof circlesEvents.circleUpdated)["schema"]> = {
  name: "content-circle-updated",
  stream: circlesStream.name,
  event: circlesEvents.circleUpdated,
  handle: ({ message: m }, trx) => applyCircleVersion(trx, m.circleId, m.circleVersion),
};

/** Archived circles' posts stay readable; their cached pages are invalidated all the same. */
export const circleArchivedConsumer = ({
  feedCache,
}: ProjectionDeps): ConsumerSpec<(typeof circlesEvents.circleArchived)["schema"]> => ({
  name: "content-circle-archived",
  stream: circlesStream.name,
  event: circlesEvents.circleArchived,
  async handle({ message: m, metadata }, trx) {
    const archivedAt =
      m.archivedAt === undefined ? metadata.occurredAt : timestampDate(m.archivedAt);
    const db = trx as Transaction<ContentDatabase>;
    await db
      .insertInto("circle_state")
      .values({
        circle_id: m.circleId,
        version: String(m.circleVersion),
        archived_at: archivedAt,
      })
      .onConflict((oc) =>
        oc.column("circle_id").doUpdateSet({
          archived_at: sql<Date>`coalesce(circle_state.archived_at, excluded.archived_at)`,
          version: sql<string>`greatest(circle_state.version, excluded.version)`,
          updated_at: sql<Date>`now()`,
        }),
      )
      .execute();
    feedCache.afterCommit(db, { circles: [m.circleId] });
  },
});
