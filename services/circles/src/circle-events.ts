import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { circlesEvents } from "@kindred/event-catalog";
import type { EventType, Outbox } from "@kindred/events";
import type { Transaction } from "kysely";
import { type Actor, eventActor } from "./actor.ts";
import type { CirclesDatabase } from "./db/schema.ts";

/** A circle's events; all of them belong to the circle's aggregate (see the catalog, ADR 12). */
export const circleEvents = circlesEvents;

/** Writes one event of `circleId` into the outbox, in the transaction of the change. */
export async function enqueueCircleEvent<Desc extends DescMessage>(
  outbox: Outbox,
  trx: Transaction<CirclesDatabase>,
  type: EventType<Desc>,
  message: MessageInitShape<Desc>,
  by: { actor: Actor; circleId: string },
): Promise<void> {
  await outbox.enqueue(trx, type, message, { ...eventActor(by.actor), aggregateId: by.circleId });
}
