import { v7 } from "uuid";

/** A new event id: UUIDv7, time-ordered, so ids sort roughly by creation. */
export function newEventId(): string {
  return v7();
}
