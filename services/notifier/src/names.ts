import { NotificationKind, Platform } from "@kindred/proto/notifier/v1";
import type { KindName, PlatformName } from "./db/schema.ts";

/** Every kind a user can turn on or off, in the order GetPreferences lists them. */
export const kindNames: readonly KindName[] = [
  "response",
  "sos",
  "moderation_decision",
  "circle_invite",
];

const kindsToProto: Record<KindName, NotificationKind> = {
  response: NotificationKind.RESPONSE,
  sos: NotificationKind.SOS,
  moderation_decision: NotificationKind.MODERATION_DECISION,
  circle_invite: NotificationKind.CIRCLE_INVITE,
};

export const kindToProto = (kind: KindName): NotificationKind => kindsToProto[kind];

/** The kind's name; requests are validated, so an unspecified kind never reaches here. */
export function kindFromProto(kind: NotificationKind): KindName {
  const name = kindNames.find((k) => kindsToProto[k] === kind);
  if (name === undefined) throw new Error(`unknown notification kind ${kind}`);
  return name;
}

export const platformToProto = (platform: PlatformName): Platform =>
  platform === "ios" ? Platform.IOS : Platform.ANDROID;

export function platformFromProto(platform: Platform): PlatformName {
  if (platform === Platform.IOS) return "ios";
  if (platform === Platform.ANDROID) return "android";
  throw new Error(`unknown platform ${platform}`);
}
