/** The channels realtime fans events out to; ids are lower-cased, as clients' channels are. */

/** A user's own events (moderation outcomes): every connection of the user is in it. */
export function userChannel(userId: string): string {
  return `user:${userId.toLowerCase()}`;
}

/** A circle's events (posts, responses, removals): its subscribers'. */
export function circleChannel(circleId: string): string {
  return `circle:${circleId.toLowerCase()}`;
}

export function isUserChannel(channel: string): boolean {
  return channel.startsWith("user:");
}

/** The circle id of a `circle:<id>` channel, or undefined for another channel. */
export function circleIdOf(channel: string): string | undefined {
  return channel.startsWith("circle:") ? channel.slice("circle:".length) : undefined;
}
