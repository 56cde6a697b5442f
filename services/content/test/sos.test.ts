import { Code, ConnectError } from "@connectrpc/connect";
import { contentEvents, identityEvents, identityStream } from "@kindred/event-catalog";
import { EscalationStage, SosStatus } from "@kindred/proto/content/v1";
import { AccountRestrictionKind } from "@kindred/proto/moderation/events/v1";
import { connectErrorOf } from "@kindred/service-kit";
import { waitFor } from "@kindred/testing";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ContentHarness, newId, type TestCircle } from "./harness.ts";

/**
 * SupportService: every method and rule (src/sos-access.ts, src/sos-limits.ts, ADR 13). The
 * acknowledgement timeout is the default (2 minutes), so no alert escalates here; escalation
 * has its own file.
 */

let h: ContentHarness;
let circle: TestCircle;
const users = {
  owner: newId(),
  circleModerator: newId(),
  member: newId(),
  /** Another plain member. */
  friend: newId(),
  /** A member the raiser blocked. */
  blocked: newId(),
  /** A member who blocked the raiser. */
  blocking: newId(),
  nonMember: newId(),
  platformModerator: newId(),
  admin: newId(),
};
type Actor = keyof typeof users;
const platformRoles: Partial<Record<Actor, string[]>> = {
  platformModerator: ["member", "moderator"],
  admin: ["member", "admin"],
};
const as = (actor: Actor) => h.as(users[actor], platformRoles[actor] ?? ["member"]);

beforeAll(async () => {
  // Every membership is projected before it is used: refusals need not wait long.
  h = await ContentHarness.start({ membershipWaitMs: 50, env: { SOS_MAX_PER_HOUR: "3" } });
  circle = await h.createCircle(users.owner);
  for (const actor of ["circleModerator", "member", "friend", "blocked", "blocking"] as const) {
    await circle.join(users[actor]);
  }
  await circle.setRole(users.circleModerator, "moderator");
});
afterAll(() => h?.[Symbol.asyncDispose]());

/** "ok", or the name of the Connect code the call failed with. */
async function outcome(call: () => Promise<unknown>): Promise<string> {
  try {
    await call();
    return "ok";
  } catch (err) {
    return Code[ConnectError.from(err).code] ?? String(err);
  }
}

/** A new member who raises an alert in the circle; the raiser blocked `blocked`, `blocking` them. */
async function raised(message = "I can't stop shaking, please someone be here") {
  const raiser = newId();
  await Promise.all([
    circle.join(raiser),
    h.block(raiser, users.blocked),
    h.block(users.blocking, raiser),
  ]);
  const asRaiser = await h.as(raiser);
  const { alert } = await h.support.raiseSos({ circleId: circle.id, message }, asRaiser);
  return { raiser, asRaiser, alertId: alert?.id ?? "", alert };
}

/** A time as the service words it: rounded up to the second, `2026-11-25T14:05:00Z`. */
const isoSecond = (at: Date) =>
  new Date(Math.ceil(at.getTime() / 1000) * 1000).toISOString().replace(".000Z", "Z");

function eventsOf(subject: string, alertId: string) {
  return h
    .contentEvents()
    .then((events) =>
      events.filter((e) => e.subject === subject && e.header("Kindred-Aggregate-Id") === alertId),
    );
}

describe("RaiseSos", () => {
  it("raises an alert for a circle member, with its content.sos.raised.v1", async () => {
    const { raiser, alertId, alert } = await raised("please, anyone");
    expect(alert).toMatchObject({
      circleId: circle.id,
      raisedBy: raiser,
      message: "please, anyone",
      status: SosStatus.RAISED,
      escalationStage: EscalationStage.CIRCLE,
      acknowledgements: [],
    });
    expect(alert?.resolvedAt).toBeUndefined();
    const event = await h.eventOf(contentEvents.sosRaised, alertId);
    expect(event.message).toMatchObject({
      alertId,
      circleId: circle.id,
      raisedBy: raiser,
      message: "please, anyone",
    });
    expect(event.message.raisedAt).toEqual(alert?.createdAt);
    expect(event.event.header("Kindred-Aggregate-Type")).toBe("sos");
    expect(event.event.header("Kindred-Actor-Id")).toBe(raiser);

    // Without a message: none in the alert or the event.
    const { alert: silent } = await h.support.raiseSos({ circleId: circle.id }, await as("friend"));
    expect(silent?.message).toBeUndefined();
    expect(
      (await h.eventOf(contentEvents.sosRaised, silent?.id ?? "")).message.message,
    ).toBeUndefined();
  });

  it("refuses non-members, unknown and archived circles and bad input, writing nothing", async () => {
    const archived = await h.createCircle(users.owner);
    await archived.join(users.member);
    await archived.archive(users.owner);
    const before = await h.count("sos_alert");
    const asMember = await as("member");

    expect(
      await connectErrorOf(h.support.raiseSos({ circleId: circle.id }, await as("nonMember"))),
    ).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: "you are not a member of this circle",
    });
    expect(await connectErrorOf(h.support.raiseSos({ circleId: newId() }, asMember))).toMatchObject(
      { code: Code.NotFound, rawMessage: "circle not found" },
    );
    expect(
      await connectErrorOf(h.support.raiseSos({ circleId: archived.id }, asMember)),
    ).toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: "this circle is archived and read-only",
    });
    expect(
      await connectErrorOf(h.support.raiseSos({ circleId: circle.id, message: "  " }, asMember)),
    ).toMatchObject({ code: Code.InvalidArgument, rawMessage: "message must not be blank" });
    const tooLong = await connectErrorOf(
      h.support.raiseSos({ circleId: circle.id, message: "x".repeat(1001) }, asMember),
    );
    expect(tooLong.code).toBe(Code.InvalidArgument);
    expect(tooLong.rawMessage).toContain("message");
    expect(
      await connectErrorOf(h.support.raiseSos({ circleId: "not-a-uuid" }, asMember)),
    ).toMatchObject({ code: Code.InvalidArgument });
    expect(await connectErrorOf(h.support.raiseSos({ circleId: circle.id }))).toMatchObject({
      code: Code.Unauthenticated,
    });
    expect(await h.count("sos_alert")).toBe(before);
  });

  it("allows SOS_MAX_PER_HOUR alerts per user in any hour and says when the next is possible", async () => {
    const user = newId();
    await circle.join(user);
    const asUser = await h.as(user);
    const first = (await h.support.raiseSos({ circleId: circle.id }, asUser)).alert;
    await h.support.raiseSos({ circleId: circle.id }, asUser);
    await h.support.raiseSos({ circleId: circle.id }, asUser);

    const limited = await connectErrorOf(h.support.raiseSos({ circleId: circle.id }, asUser));
    expect(limited.code).toBe(Code.ResourceExhausted);
    const { created_at: firstAt } = await h.db.kysely
      .selectFrom("sos_alert")
      .select("created_at")
      .where("id", "=", first?.id ?? "")
      .executeTakeFirstOrThrow();
    expect(limited.rawMessage).toContain("you can raise 3 SOS alerts per hour");
    expect(limited.rawMessage).toContain(
      `the next one is possible at ${isoSecond(new Date(firstAt.getTime() + 3_600_000))} (in 60 min)`,
    );
    expect(limited.rawMessage).toContain("call your local emergency number");

    // The oldest leaves the window: one more is possible, then the limit holds again.
    await h.db.kysely
      .updateTable("sos_alert")
      .set({ created_at: sql<Date>`now() - interval '61 minutes'` })
      .where("id", "=", first?.id ?? "")
      .execute();
    await h.support.raiseSos({ circleId: circle.id }, asUser);
    expect((await connectErrorOf(h.support.raiseSos({ circleId: circle.id }, asUser))).code).toBe(
      Code.ResourceExhausted,
    );
  });

  it("holds the limit under concurrent raises", async () => {
    const user = newId();
    await circle.join(user);
    const asUser = await h.as(user);
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        outcome(() => h.support.raiseSos({ circleId: circle.id }, asUser)),
      ),
    );
    expect(results.filter((r) => r === "ok")).toHaveLength(3);
    expect(results.filter((r) => r === "ResourceExhausted")).toHaveLength(3);
  });

  it("refuses users whom moderators restricted from SOS, while the restriction lasts", async () => {
    const user = newId();
    await circle.join(user);
    const asUser = await h.as(user);
    const raiseAs = () => h.support.raiseSos({ circleId: circle.id }, asUser);

    const until = new Date(Date.now() + 3_600_000);
    await h.restrict(user, AccountRestrictionKind.SOS_RESTRICTED, { until });
    const refused = await connectErrorOf(raiseAs());
    expect(refused.code).toBe(Code.PermissionDenied);
    expect(refused.rawMessage).toContain(
      `moderators have restricted you from raising SOS alerts until ${isoSecond(until)}`,
    );
    expect(refused.rawMessage).toContain("call your local emergency number");

    // Lifted: allowed again. An older restriction delivered late does not come back.
    await h.restrict(user, AccountRestrictionKind.SOS_RESTRICTION_LIFTED);
    await raiseAs();
    await h.restrict(user, AccountRestrictionKind.SOS_RESTRICTED, {
      decidedAt: new Date(Date.now() - 60_000),
    });
    await raiseAs();

    // Permanent (no `until`): refused, with no end date in the message.
    const permanent = newId();
    await circle.join(permanent);
    await h.restrict(permanent, AccountRestrictionKind.SOS_RESTRICTED);
    const forGood = await connectErrorOf(
      h.support.raiseSos({ circleId: circle.id }, await h.as(permanent)),
    );
    expect(forGood.code).toBe(Code.PermissionDenied);
    expect(forGood.rawMessage).toMatch(
      /^moderators have restricted you from raising SOS alerts\. /,
    );

    // Ended, or not about SOS at all: allowed.
    const ended = newId();
    await circle.join(ended);
    await h.restrict(ended, AccountRestrictionKind.SOS_RESTRICTED, {
      until: new Date(Date.now() - 1_000),
    });
    await h.support.raiseSos({ circleId: circle.id }, await h.as(ended));
    const suspended = newId();
    await circle.join(suspended);
    await h.restrict(suspended, AccountRestrictionKind.SUSPENDED, {
      until: new Date(Date.now() + 3_600_000),
    });
    await h.support.raiseSos({ circleId: circle.id }, await h.as(suspended));
    expect(
      await h.db.kysely
        .selectFrom("sos_restriction")
        .select("user_id")
        .where("user_id", "=", suspended)
        .executeTakeFirst(),
    ).toBeUndefined();
  });
});

describe("GetSos", () => {
  it("shows the alert to its raiser and every member, the message not across a block", async () => {
    const { asRaiser, alertId } = await raised("at the station, panicking");
    const seen = async (actor: Actor) =>
      (await h.support.getSos({ alertId }, await as(actor))).alert;

    expect((await h.support.getSos({ alertId }, asRaiser)).alert?.message).toBe(
      "at the station, panicking",
    );
    for (const actor of ["owner", "circleModerator", "member"] as const) {
      expect((await seen(actor))?.message).toBe("at the station, panicking");
    }
    // Blocks do not hide an SOS, only the raiser's words.
    for (const actor of ["blocked", "blocking"] as const) {
      const alert = await seen(actor);
      expect(alert?.id).toBe(alertId);
      expect(alert?.status).toBe(SosStatus.RAISED);
      expect(alert?.message).toBeUndefined();
    }
    for (const actor of ["nonMember", "platformModerator", "admin"] as const) {
      expect(await connectErrorOf(seen(actor))).toMatchObject({
        code: Code.NotFound,
        rawMessage: "SOS alert not found",
      });
    }
    expect(
      await connectErrorOf(h.support.getSos({ alertId: newId() }, await as("member"))),
    ).toMatchObject({ code: Code.NotFound });
  });
});

describe("AcknowledgeSos", () => {
  it("records each member's \"I'm here\" once; the first moves the alert to ACKNOWLEDGED", async () => {
    const { raiser, asRaiser, alertId } = await raised();
    const ack = async (actor: Actor) =>
      (await h.support.acknowledgeSos({ alertId }, await as(actor))).alert;

    expect(await connectErrorOf(h.support.acknowledgeSos({ alertId }, asRaiser))).toMatchObject({
      code: Code.PermissionDenied,
      rawMessage: "you raised this SOS: another member of the circle acknowledges it",
    });
    expect(await outcome(() => ack("nonMember"))).toBe("NotFound");
    expect(await outcome(() => ack("platformModerator"))).toBe("NotFound");
    // Someone the raiser blocked (or who blocked them) cannot answer, and so cannot stop the
    // escalation.
    for (const actor of ["blocked", "blocking"] as const) {
      expect(await connectErrorOf(ack(actor))).toMatchObject({
        code: Code.PermissionDenied,
        rawMessage: "you cannot acknowledge this SOS",
      });
    }
    const acks = await h.db.kysely
      .selectFrom("sos_acknowledgement")
      .select("user_id")
      .where("alert_id", "=", alertId)
      .execute();
    expect(acks).toEqual([]);

    const first = await ack("member");
    expect(first).toMatchObject({
      status: SosStatus.ACKNOWLEDGED,
      escalationStage: EscalationStage.CIRCLE,
      acknowledgements: [{ userId: users.member }],
    });
    // Again: the same answer, nothing new.
    const again = await ack("member");
    expect(again?.acknowledgements).toEqual(first?.acknowledgements);
    const second = await ack("circleModerator");
    expect(second?.status).toBe(SosStatus.ACKNOWLEDGED);
    expect(second?.acknowledgements.map((a) => a.userId)).toEqual([
      users.member,
      users.circleModerator,
    ]);
    expect((await h.support.getSos({ alertId }, asRaiser)).alert?.acknowledgements).toEqual(
      second?.acknowledgements,
    );

    const events = await eventsOf(contentEvents.sosAcknowledged.subject, alertId);
    expect(events.map((e) => e.decode(contentEvents.sosAcknowledged))).toMatchObject([
      { alertId, circleId: circle.id, raisedBy: raiser, acknowledgedBy: users.member },
      { alertId, circleId: circle.id, raisedBy: raiser, acknowledgedBy: users.circleModerator },
    ]);

    // Resolved: no new acknowledgements (a repeated one still answers).
    await h.support.resolveSos({ alertId }, asRaiser);
    expect(await connectErrorOf(ack("friend"))).toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: "this SOS has been resolved already",
    });
    expect((await ack("member"))?.status).toBe(SosStatus.RESOLVED);
  });
});

describe("ResolveSos", () => {
  it("lets the raiser, the circle's moderators and owners and platform moderators resolve", async () => {
    const expected: Record<Actor | "raiser", string> = {
      raiser: "ok",
      owner: "ok",
      circleModerator: "ok",
      platformModerator: "ok",
      admin: "ok",
      member: "PermissionDenied",
      friend: "PermissionDenied",
      blocked: "PermissionDenied",
      blocking: "PermissionDenied",
      nonMember: "NotFound",
    };
    const actual: Record<string, string> = {};
    for (const actor of Object.keys(expected) as (Actor | "raiser")[]) {
      const { asRaiser, alertId } = await raised();
      const auth = actor === "raiser" ? asRaiser : await as(actor);
      actual[actor] = await outcome(() => h.support.resolveSos({ alertId }, auth));
    }
    expect(actual).toEqual(expected);
  });

  it("closes the alert once, with its content.sos.resolved.v1; a retry changes nothing", async () => {
    const { raiser, alertId } = await raised();
    const asModerator = await as("circleModerator");
    const { alert } = await h.support.resolveSos({ alertId }, asModerator);
    expect(alert).toMatchObject({ id: alertId, status: SosStatus.RESOLVED });
    expect(alert?.resolvedAt).toBeDefined();
    const again = (await h.support.resolveSos({ alertId }, await as("owner"))).alert;
    expect(again?.resolvedAt).toEqual(alert?.resolvedAt);

    const event = await h.eventOf(contentEvents.sosResolved, alertId);
    expect(event.message).toMatchObject({
      alertId,
      circleId: circle.id,
      raisedBy: raiser,
      resolvedBy: users.circleModerator,
      resolvedAt: alert?.resolvedAt,
    });
    expect(
      await connectErrorOf(h.support.resolveSos({ alertId: newId() }, asModerator)),
    ).toMatchObject({ code: Code.NotFound });
  });

  it("lets a raiser who left the circle still resolve their alert", async () => {
    const { raiser, asRaiser, alertId } = await raised();
    await circle.leave(raiser);
    expect((await h.support.resolveSos({ alertId }, asRaiser)).alert?.status).toBe(
      SosStatus.RESOLVED,
    );
  });
});

describe("ListActiveSos", () => {
  it("lists the unresolved alerts of my circles, newest first, in signed pages", async () => {
    const me = newId();
    const other = newId();
    const a = await h.createCircle(me);
    const b = await h.createCircle(other);
    const c = await h.createCircle(other);
    await b.join(me);
    await a.join(other);
    const asMe = await h.as(me);
    const asOther = await h.as(other);
    const raise = async (circleId: string, auth: typeof asMe, message?: string) =>
      (await h.support.raiseSos({ circleId, ...(message === undefined ? {} : { message }) }, auth))
        .alert?.id ?? "";
    const a1 = await raise(a.id, asOther, "first");
    const b1 = await raise(b.id, asOther, "second");
    await raise(c.id, asOther, "not my circle");
    const resolved = await raise(b.id, asMe);
    await h.support.resolveSos({ alertId: resolved }, asMe);
    const a2 = await raise(a.id, asMe, "mine");
    await h.support.acknowledgeSos({ alertId: a1 }, asMe);

    const all = await h.support.listActiveSos({}, asMe);
    expect(all.alerts.map((x) => x.id)).toEqual([a2, b1, a1]);
    expect(all.alerts.map((x) => x.status)).toEqual([
      SosStatus.RAISED,
      SosStatus.RAISED,
      SosStatus.ACKNOWLEDGED,
    ]);
    expect(all.alerts[2]?.acknowledgements.map((x) => x.userId)).toEqual([me]);
    expect(all.nextPageToken).toBe("");
    expect(
      (await h.support.listActiveSos({ circleId: b.id }, asMe)).alerts.map((x) => x.id),
    ).toEqual([b1]);

    // Pages of one.
    const seen: string[] = [];
    let pageToken = "";
    do {
      const page = await h.support.listActiveSos({ pageSize: 1, pageToken }, asMe);
      expect(page.alerts.length).toBeLessThanOrEqual(1);
      seen.push(...page.alerts.map((x) => x.id));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    expect(seen).toEqual([a2, b1, a1]);

    const token = (await h.support.listActiveSos({ pageSize: 1 }, asMe)).nextPageToken;
    for (const call of [
      () => h.support.listActiveSos({ pageToken: `${token}x` }, asMe),
      () => h.support.listActiveSos({ pageToken: token }, asOther),
      () => h.support.listActiveSos({ pageToken: token, circleId: a.id }, asMe),
      () => h.client.listFeed({ pageToken: token }, asMe),
    ]) {
      expect(await connectErrorOf(call())).toMatchObject({
        code: Code.InvalidArgument,
        rawMessage: "page_token is not a token this method returned",
      });
    }
    expect(await connectErrorOf(h.support.listActiveSos({ circleId: c.id }, asMe))).toMatchObject({
      code: Code.PermissionDenied,
    });

    // A block hides the words, not the alert; leaving the circle hides its alerts.
    await h.block(me, other);
    const blocked = await h.support.listActiveSos({}, asMe);
    expect(blocked.alerts.map((x) => x.id)).toEqual([a2, b1, a1]);
    expect(blocked.alerts.map((x) => x.message)).toEqual(["mine", undefined, undefined]);
    await b.leave(me);
    expect((await h.support.listActiveSos({}, asMe)).alerts.map((x) => x.id)).toEqual([a2, a1]);
  });
});

describe("account deletion", () => {
  it("erases a deleted account's SOS messages and resolves its open alerts", async () => {
    const { raiser, alertId } = await raised("my words");
    const meta = await h.publish(
      identityStream,
      identityEvents.userDeleted,
      { userId: raiser },
      raiser,
    );
    await h.awaitHandled(meta.id);
    const alert = (await h.support.getSos({ alertId }, await as("member"))).alert;
    expect(alert).toMatchObject({ status: SosStatus.RESOLVED });
    expect(alert?.message).toBeUndefined();
    const event = await waitFor(
      async () => (await eventsOf(contentEvents.sosResolved.subject, alertId))[0],
      { what: "the resolution published" },
    );
    expect(event.decode(contentEvents.sosResolved)).toMatchObject({ alertId, resolvedBy: "" });
  });
});
