import { randomBytes } from "node:crypto";

/**
 * A short unique name for one test's resources (databases, streams, subjects, Redis keys), so
 * test files can run in parallel against the same servers. Lowercase letters, digits and `_`.
 */
export function uniqueName(prefix = "t"): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  return `${clean}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
}

/**
 * Names for one test's JetStream resources: a stream name (letters, digits, `_`; no dots) and a
 * subject prefix (`t_xxx.`) under which the test publishes, so streams of parallel tests never
 * capture each other's subjects.
 */
export function uniqueStreamNames(prefix = "t"): { stream: string; subjectPrefix: string } {
  const name = uniqueName(prefix);
  return { stream: name.toUpperCase(), subjectPrefix: `${name}.` };
}
