import { DomainError } from "@kindred/errors";

/** A circle's name as stored: NFC, trimmed, never blank (the request's length is validated). */
export function circleName(raw: string): string {
  const name = raw.normalize("NFC").trim();
  if (name === "") throw new DomainError("invalid_argument", "name must not be blank");
  return name;
}

/** A circle's description as stored: NFC, trimmed; empty is allowed. */
export const circleDescription = (raw: string): string => raw.normalize("NFC").trim();

/** Text matched by DiscoverCircles, with LIKE's wildcards taken literally. */
export function likePattern(query: string, { anchored }: { anchored: boolean }): string {
  const escaped = query.replace(/[\\%_]/g, (c) => `\\${c}`);
  return anchored ? `${escaped}%` : `%${escaped}%`;
}
