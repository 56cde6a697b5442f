import type { KindName, SubjectKind } from "./db/schema.ts";
import type { PushMessage } from "./push/types.ts";

/**
 * Lock-screen-safe pushes (ADR 17): a neutral title per kind in the device's language, no body,
 * and data that carries only ids and the kind. Nothing anyone wrote (a response, an SOS
 * message, a moderator's note) ever leaves Kindred in a push; the app fetches the details
 * after unlock, through the API and its access rules.
 */
export interface PayloadSettings {
  /** How long a provider may hold a push for an offline device. */
  ttlSeconds: number;
  /** The same for SOS pushes: an alert is only worth delivering while it may still be open. */
  sosTtlSeconds: number;
  /** The app holds Apple's critical-alert entitlement: SOS pushes break through Do Not Disturb. */
  criticalAlerts: boolean;
}

/** What a push is built from: the notification, never the event's payload. */
export interface PushSubject {
  notificationId: string;
  kind: KindName;
  subjectKind: SubjectKind;
  subjectId: string;
  postId: string | null;
  circleId: string | null;
}

type Titles = Readonly<Record<KindName, string>>;

/** Neutral titles by language; English is the fallback for every other language. */
export const titles: Readonly<Record<string, Titles>> = {
  en: {
    response: "Someone responded to your post",
    sos: "Someone in your circle needs support",
    moderation_decision: "An update about your account or content",
    circle_invite: "You were invited to a circle",
  },
  de: {
    response: "Jemand hat auf deinen Beitrag geantwortet",
    sos: "Jemand in deinem Kreis braucht Unterstützung",
    moderation_decision: "Neuigkeiten zu deinem Konto oder deinen Inhalten",
    circle_invite: "Du wurdest in einen Kreis eingeladen",
  },
  es: {
    response: "Alguien respondió a tu publicación",
    sos: "Alguien de tu círculo necesita apoyo",
    moderation_decision: "Novedades sobre tu cuenta o tu contenido",
    circle_invite: "Te invitaron a un círculo",
  },
  fr: {
    response: "Quelqu’un a répondu à votre publication",
    sos: "Quelqu’un de votre cercle a besoin de soutien",
    moderation_decision: "Du nouveau concernant votre compte ou votre contenu",
    circle_invite: "Vous avez été invité à rejoindre un cercle",
  },
};

/** The title for `kind` in `locale` (`de-AT` → German), English when the language is missing. */
export function titleFor(kind: KindName, locale: string): string {
  const language = locale.toLowerCase().split(/[-_]/)[0] ?? "";
  return (titles[language] ?? titles.en)?.[kind] ?? "";
}

const subjectKey: Record<SubjectKind, string> = {
  response: "response_id",
  sos: "sos_id",
  decision: "decision_id",
};

/** The push for one notification to one device. */
export function pushMessage(
  subject: PushSubject,
  device: { token: string; locale: string },
  settings: PayloadSettings,
): PushMessage {
  const data: Record<string, string> = {
    kind: subject.kind,
    notification_id: subject.notificationId,
    [subjectKey[subject.subjectKind]]: subject.subjectId,
  };
  if (subject.postId !== null) data.post_id = subject.postId;
  if (subject.circleId !== null) data.circle_id = subject.circleId;
  const base = {
    token: device.token,
    title: titleFor(subject.kind, device.locale),
    body: "",
    data,
  };
  if (subject.kind === "sos") {
    return {
      ...base,
      priority: "high",
      // A later wave of the same alert replaces the earlier one on the device.
      collapseKey: `sos:${subject.subjectId}`,
      ttlSeconds: settings.sosTtlSeconds,
      interruptionLevel: settings.criticalAlerts ? "critical" : "time-sensitive",
    };
  }
  return {
    ...base,
    priority: "normal",
    // Several responses to one post show as one notification.
    ...(subject.postId === null ? {} : { collapseKey: `post:${subject.postId}` }),
    ttlSeconds: settings.ttlSeconds,
    interruptionLevel: "active",
  };
}
