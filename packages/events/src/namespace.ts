/**
 * Events live under an optional namespace: in production it is empty (subjects are exactly
 * `content.post.created.v1`, streams `CONTENT`); tests and shared development servers set one
 * (`EVENTS_NAMESPACE`) so that parallel runs never see each other's streams or subjects.
 */
export interface EventNamespace {
  /** Lowercase letters, digits, `_`; empty for none. */
  readonly prefix: string;
}

export const noNamespace: EventNamespace = Object.freeze({ prefix: "" });

export function eventNamespace(prefix: string | undefined): EventNamespace {
  const value = prefix ?? "";
  if (value !== "" && !/^[a-z][a-z0-9_]*$/.test(value)) {
    throw new Error(`event namespace must be lowercase letters, digits and _, got "${value}"`);
  }
  return Object.freeze({ prefix: value });
}

/** `content.post.created.v1` → `<ns>.content.post.created.v1` */
export function subjectIn(ns: EventNamespace, subject: string): string {
  return ns.prefix === "" ? subject : `${ns.prefix}.${subject}`;
}

/** `CONTENT` → `<NS>_CONTENT` */
export function streamIn(ns: EventNamespace, stream: string): string {
  return ns.prefix === "" ? stream : `${ns.prefix.toUpperCase()}_${stream}`;
}
