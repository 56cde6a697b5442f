import { hasRole, type Principal } from "@kindred/auth";
import { DomainError } from "@kindred/errors";
import type { AccessRules, CircleAccess } from "./access.ts";
import type { AlertRow } from "./sos-alerts.ts";

/** Why a caller may resolve an alert. */
export type ResolverKind = "raiser" | "circle_moderator" | "moderation";

/**
 * Who may do what with SOS alerts: the one rule set every SupportService method uses (ADR 13).
 *
 * - **Raise**: an active member of a circle that is not archived (`AccessRules.requireMember`,
 *   with its bounded wait for a fresh join), not restricted by moderators, within the rate limit.
 * - **See** an alert (GetSos, ListActiveSos): its raiser, or an active member of its circle.
 *   Blocks do not hide an alert: an SOS must reach everyone who can help. Across a block (either
 *   direction) between the caller and the raiser, the alert is shown without its message.
 *   Anyone else gets `not_found`.
 * - **Acknowledge**: a member who may see it, other than the raiser, with no block between
 *   them and the raiser either way (`permission_denied`): the first acknowledgement stops the
 *   escalation, so someone the raiser blocked must not be able to silence it.
 * - **Resolve**: the raiser (always, even after leaving the circle), an active owner or
 *   moderator of its circle, or a platform `moderator`/`admin` (token roles); blocks do not
 *   shield an alert from moderators. Members who may see it but not resolve it get
 *   `permission_denied`.
 * - Acknowledging and resolving work in archived circles too: an alert raised before the
 *   archive still needs an answer and an end.
 */
export class SosRules {
  readonly #access: AccessRules;

  constructor(access: AccessRules) {
    this.#access = access;
  }

  /** Whether the caller may see the alert's message; `not_found` when not the alert at all. */
  async requireViewer(
    alert: AlertRow,
    userId: string,
    signal?: AbortSignal,
  ): Promise<{ messageVisible: boolean }> {
    if (userId === alert.raised_by) return { messageVisible: true };
    const access = await this.#access.awaitMembership(alert.circle_id, userId, { signal });
    if (access?.role === undefined) throw alertNotFound();
    const blocked = await this.#access.blockedBetween(userId, [alert.raised_by]);
    return { messageVisible: !blocked };
  }

  /** Whether a caller who may act on the alert may also read its message (see the class). */
  async messageVisibleTo(alert: AlertRow, userId: string): Promise<boolean> {
    if (userId === alert.raised_by) return true;
    const access = await this.#access.circleOf(alert.circle_id, userId);
    if (access?.role === undefined) return false;
    return !(await this.#access.blockedBetween(userId, [alert.raised_by]));
  }

  async requireAcknowledger(
    alert: AlertRow,
    userId: string,
    signal?: AbortSignal,
  ): Promise<{ messageVisible: boolean }> {
    if (userId === alert.raised_by) {
      throw new DomainError(
        "permission_denied",
        "you raised this SOS: another member of the circle acknowledges it",
        { reason: "OWN_ALERT" },
      );
    }
    const viewer = await this.requireViewer(alert, userId, signal);
    if (!viewer.messageVisible) {
      throw new DomainError("permission_denied", "you cannot acknowledge this SOS", {
        reason: "BLOCKED",
      });
    }
    return viewer;
  }

  async requireResolver(
    principal: Principal,
    alert: AlertRow,
    signal?: AbortSignal,
  ): Promise<ResolverKind> {
    if (principal.userId === alert.raised_by) return "raiser";
    let access = await this.#access.circleOf(alert.circle_id, principal.userId);
    if (isCircleModerator(access)) return "circle_moderator";
    if (hasRole(principal, "moderator") || hasRole(principal, "admin")) return "moderation";
    if (access?.role === undefined) {
      access = await this.#access.awaitMembership(alert.circle_id, principal.userId, { signal });
      if (isCircleModerator(access)) return "circle_moderator";
    }
    if (access?.role === undefined) throw alertNotFound();
    throw new DomainError(
      "permission_denied",
      "only the member who raised it, the circle's moderators and owners, or a platform moderator may resolve this SOS",
    );
  }
}

const isCircleModerator = (access: CircleAccess | undefined) =>
  access?.role === "owner" || access?.role === "moderator";

export const alertNotFound = () => new DomainError("not_found", "SOS alert not found");
