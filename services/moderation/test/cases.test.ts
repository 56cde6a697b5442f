import { randomUUID } from "node:crypto";
import { Code } from "@connectrpc/connect";
import { moderationEvents } from "@kindred/event-catalog";
import {
  AccountRestrictionKind,
  CasePriority,
  DecisionAction,
  CaseScope as EventScope,
} from "@kindred/proto/moderation/events/v1";
import {
  Action,
  AppealOutcome,
  AppealStatus,
  CaseScope,
  CaseStatus,
  LogEntryKind,
  Priority,
  ReportReason,
  TargetKind,
} from "@kindred/proto/moderation/v1";
import { connectErrorOf } from "@kindred/service-kit";
import { waitFor } from "@kindred/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ModerationHarness, startModeration, type TestUser } from "./harness.ts";

let mod: ModerationHarness;
beforeAll(async () => {
  mod = await startModeration({
    REPORTS_PER_HOUR: "5",
    REPORT_ESCALATION_THRESHOLD: "3",
    REPORT_TARGET_WAIT_MS: "100",
  });
});
afterAll(async () => {
  await mod?.[Symbol.asyncDispose]();
});

const post = (id: string) => ({ kind: TargetKind.POST, id });

/** A circle with an owner and a moderator, and a post in it by a member. */
async function scene() {
  const owner = await mod.user();
  const circleMod = await mod.user();
  const author = await mod.user();
  const circleId = await mod.circle(owner.id, [circleMod.id]);
  const postId = await mod.post(circleId, author.id, "an ordinary post about a long day");
  return { owner, circleMod, author, circleId, postId };
}

async function reported(reporter: TestUser, postId: string, reason = ReportReason.HARASSMENT) {
  const { report } = await reporter.m.reportContent({
    target: post(postId),
    reason,
    details: "rude",
  });
  return report;
}

async function caseOf(user: TestUser, targetId: string) {
  const { cases } = await user.m.listQueue({ pageSize: 100 });
  const found = cases.find((c) => c.target?.id === targetId);
  if (found === undefined) throw new Error("no case for the target in the queue");
  return found;
}

describe("reports", () => {
  it("opens one case per target; bad reports are refused and change nothing", async () => {
    const { circleMod, author, postId } = await scene();
    const reporter = await mod.user();
    const report = await reported(reporter, postId);
    expect(report).toMatchObject({ reporterId: reporter.id, target: post(postId) });

    const again = await connectErrorOf(reported(reporter, postId));
    expect(again).toMatchObject({ code: Code.AlreadyExists });
    expect(again.rawMessage).toBe("you already reported this and moderators have not decided yet");
    expect(await connectErrorOf(reported(author, postId))).toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: "you cannot report your own post",
    });
    expect(
      await connectErrorOf(
        reporter.m.reportContent({
          target: { kind: TargetKind.USER, id: reporter.id },
          reason: ReportReason.SPAM,
        }),
      ),
    ).toMatchObject({ code: Code.InvalidArgument, rawMessage: "you cannot report yourself" });
    expect(await connectErrorOf(reported(reporter, randomUUID()))).toMatchObject({
      code: Code.NotFound,
      rawMessage: "no post with this id",
    });
    expect(
      await connectErrorOf(
        reporter.m.reportContent({ target: { kind: TargetKind.POST, id: "nope" }, reason: 1 }),
      ),
    ).toMatchObject({ code: Code.InvalidArgument });

    const second = await mod.user();
    await reported(second, postId, ReportReason.VIOLENCE);
    const found = await caseOf(circleMod, postId);
    expect(found).toMatchObject({
      reportCount: 2,
      priority: Priority.HIGH,
      reason: ReportReason.VIOLENCE,
      scope: CaseScope.CIRCLE,
    });
    const { case: detail } = await circleMod.m.getCase({ caseId: found.id });
    expect(detail?.reports.map((r) => r.reporterId)).toEqual([reporter.id, second.id]);
    expect(detail?.history.map((h) => h.kind)).toEqual([
      LogEntryKind.CASE_OPENED,
      LogEntryKind.REPORT_ADDED,
      LogEntryKind.REPORT_ADDED,
    ]);
  });

  it("limits reports per hour, and a muted reporter's reports open nothing", async () => {
    const { circleId } = await scene();
    const reporter = await mod.user();
    const posts: string[] = [];
    for (let i = 0; i < 6; i++) posts.push(await mod.post(circleId, randomUUID(), `post ${i}`));
    for (const p of posts.slice(0, 5)) await reported(reporter, p, ReportReason.SPAM);
    const limited = await connectErrorOf(reported(reporter, posts[5] ?? ""));
    expect(limited).toMatchObject({ code: Code.ResourceExhausted });
    expect(limited.rawMessage).toBe("you can file at most 5 reports an hour; try again later");

    const admin = await mod.user(["admin"]);
    const abuser = await mod.user();
    await admin.m.muteReporter({ userId: abuser.id, note: "files reports to harass" });
    const quiet = await mod.post(circleId, randomUUID(), "nothing wrong here");
    const muted = await reported(abuser, quiet);
    expect(muted?.id).toBeTruthy();
    expect(
      (await admin.m.listQueue({ pageSize: 100 })).cases.map((c) => c.target?.id),
    ).not.toContain(quiet);
    const { entries } = await admin.m.listModerationLog({ userId: abuser.id });
    expect(entries.map((e) => [e.kind, e.actorId])).toEqual([
      [LogEntryKind.REPORTER_MUTED, admin.id],
    ]);
    await admin.m.unmuteReporter({ userId: abuser.id, note: "served their time" });
    expect(
      await connectErrorOf(admin.m.unmuteReporter({ userId: abuser.id, note: "again" })),
    ).toMatchObject({
      code: Code.FailedPrecondition,
    });
    const member = await mod.user();
    expect(
      await connectErrorOf(member.m.muteReporter({ userId: abuser.id, note: "x" })),
    ).toMatchObject({
      code: Code.PermissionDenied,
    });
  });

  it("escalates a target past the report threshold to platform moderators, once", async () => {
    const { circleMod, postId } = await scene();
    for (let i = 0; i < 3; i++) await reported(await mod.user(), postId);
    const platform = await mod.user(["moderator"]);
    const found = await caseOf(platform, postId);
    expect(found).toMatchObject({
      scope: CaseScope.PLATFORM,
      status: CaseStatus.ESCALATED,
      priority: Priority.HIGH,
      reportCount: 3,
    });
    // The circle's moderators no longer see it.
    expect((await circleMod.m.listQueue({})).cases.map((c) => c.id)).not.toContain(found.id);
    const escalations = (await mod.events(moderationEvents.caseEscalated)).filter(
      (e) => e.caseId === found.id,
    );
    expect(escalations).toMatchObject([{ automatic: true, scope: EventScope.PLATFORM }]);
    await reported(await mod.user(), postId);
    expect(
      (await mod.events(moderationEvents.caseEscalated)).filter((e) => e.caseId === found.id),
    ).toHaveLength(1);
  });
});

describe("scoped access", () => {
  it("shows circle moderators their circles' cases only; members nothing", async () => {
    const a = await scene();
    const b = await scene();
    await reported(await mod.user(), a.postId);
    await reported(await mod.user(), b.postId);
    const aCases = (await a.circleMod.m.listQueue({ pageSize: 100 })).cases;
    expect(aCases.map((c) => c.target?.id)).toEqual([a.postId]);
    const bCase = await caseOf(b.owner, b.postId);
    const hidden = await connectErrorOf(a.circleMod.m.getCase({ caseId: bCase.id }));
    expect(hidden).toMatchObject({ code: Code.NotFound, rawMessage: "case not found" });
    expect(await connectErrorOf(a.circleMod.m.claimCase({ caseId: bCase.id }))).toMatchObject({
      code: Code.NotFound,
    });
    const member = await mod.user();
    expect(await connectErrorOf(member.m.listQueue({}))).toMatchObject({
      code: Code.PermissionDenied,
    });
    expect(
      (await a.circleMod.m.listModerationLog({ pageSize: 100 })).entries.every(
        (e) => e.caseId === aCases[0]?.id,
      ),
    ).toBe(true);
  });

  it("pages the queue by priority then age with tokens bound to the caller", async () => {
    const { circleMod, circleId } = await scene();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const p = await mod.post(circleId, randomUUID(), `post ${i}`);
      ids.push(p);
      await reported(await mod.user(), p, i === 2 ? ReportReason.VIOLENCE : ReportReason.SPAM);
    }
    const first = await circleMod.m.listQueue({ pageSize: 2 });
    const second = await circleMod.m.listQueue({ pageSize: 2, pageToken: first.nextPageToken });
    const all = [...first.cases, ...second.cases].map((c) => c.target?.id);
    expect(all.slice(0, 3)).toEqual([ids[2], ids[0], ids[1]]);
    const other = await mod.user(["moderator"]);
    expect(
      await connectErrorOf(other.m.listQueue({ pageSize: 2, pageToken: first.nextPageToken })),
    ).toMatchObject({ code: Code.InvalidArgument });
  });
});

describe("claims and decisions", () => {
  it("needs a live claim; a stale claim or someone else's is refused and nothing changes", async () => {
    const { circleMod, owner, postId } = await scene();
    await reported(await mod.user(), postId);
    const found = await caseOf(circleMod, postId);
    const resolve = (who: TestUser, action = Action.DISMISS) =>
      who.m.resolveCase({ caseId: found.id, action, note: "fine" });
    expect(await connectErrorOf(resolve(circleMod))).toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: "claim the case before resolving it",
    });
    const { case: claimed } = await circleMod.m.claimCase({ caseId: found.id });
    expect(claimed).toMatchObject({ status: CaseStatus.CLAIMED, assigneeId: circleMod.id });
    expect(await connectErrorOf(owner.m.claimCase({ caseId: found.id }))).toMatchObject({
      code: Code.FailedPrecondition,
    });
    mod.advance(16 * 60_000);
    // The sweep ends the claim; its holder is still told it expired.
    await waitFor(
      async () => {
        const { case: c } = await circleMod.m.getCase({ caseId: found.id });
        return c?.history.some((h) => h.kind === LogEntryKind.CLAIM_EXPIRED) ? true : undefined;
      },
      { what: "the sweep to end the claim" },
    );
    expect(await connectErrorOf(resolve(circleMod))).toMatchObject({
      code: Code.FailedPrecondition,
      rawMessage: "your claim on the case expired; claim it again before resolving it",
    });
    // Circle moderators may not take account actions.
    await owner.m.claimCase({ caseId: found.id });
    expect(await connectErrorOf(resolve(owner, Action.BAN))).toMatchObject({
      code: Code.PermissionDenied,
    });
    expect(
      await connectErrorOf(
        owner.m.resolveCase({
          caseId: found.id,
          action: Action.WARN,
          durationSeconds: 600n,
          note: "x",
        }),
      ),
    ).toMatchObject({ code: Code.InvalidArgument });
    expect((await owner.m.getCase({ caseId: found.id })).case?.status).toBe(CaseStatus.CLAIMED);
    expect(await mod.events(moderationEvents.decisionMade)).not.toContainEqual(
      expect.objectContaining({ caseId: found.id }),
    );
  });

  it("removes content: decision event, evidence held through the appeal window, appeal overturned by another moderator", async () => {
    const { author, postId } = await scene();
    await reported(await mod.user(), postId, ReportReason.HATE);
    const platform = await mod.user(["moderator"]);
    const found = await caseOf(platform, postId);
    await platform.m.claimCase({ caseId: found.id });
    const { decision, case: resolved } = await platform.m.resolveCase({
      caseId: found.id,
      action: Action.REMOVE_CONTENT,
      note: "hateful",
    });
    expect(resolved?.status).toBe(CaseStatus.RESOLVED);
    expect(resolved?.history.at(-1)).toMatchObject({
      kind: LogEntryKind.RESOLVED,
      actorId: platform.id,
      note: "remove_content: hateful",
    });
    const made = (await mod.events(moderationEvents.decisionMade)).find(
      (e) => e.caseId === found.id,
    );
    expect(made).toMatchObject({
      decisionId: decision?.id,
      action: DecisionAction.REMOVE_CONTENT,
      target: { id: postId },
      affectedUserId: author.id,
      note: "hateful",
    });
    expect(made?.appealableUntil).toBeDefined();
    const hold = () =>
      mod.app.deps.db.kysely
        .selectFrom("evidence_hold")
        .selectAll()
        .where("case_id", "=", found.id)
        .executeTakeFirstOrThrow();
    expect((await hold()).released_at).toBeNull();

    // The author sees the decision (without who made it) and appeals.
    const { decisions } = await author.m.listMyDecisions({});
    expect(decisions).toMatchObject([{ id: decision?.id, moderatorId: "" }]);
    const stranger = await mod.user();
    expect(
      await connectErrorOf(
        stranger.m.appealDecision({ decisionId: decision?.id ?? "", statement: "x" }),
      ),
    ).toMatchObject({ code: Code.NotFound });
    const { appeal } = await author.m.appealDecision({
      decisionId: decision?.id ?? "",
      statement: "it was a quote",
    });
    expect(
      await connectErrorOf(
        author.m.appealDecision({ decisionId: decision?.id ?? "", statement: "again" }),
      ),
    ).toMatchObject({ code: Code.AlreadyExists });
    expect(
      await connectErrorOf(
        platform.m.resolveAppeal({
          appealId: appeal?.id ?? "",
          outcome: AppealOutcome.OVERTURN,
          note: "x",
        }),
      ),
    ).toMatchObject({ code: Code.PermissionDenied });
    const second = await mod.user(["moderator"]);
    const { appeal: overturned } = await second.m.resolveAppeal({
      appealId: appeal?.id ?? "",
      outcome: AppealOutcome.OVERTURN,
      note: "context shows a quote",
    });
    expect(overturned).toMatchObject({ status: AppealStatus.OVERTURNED });
    expect(
      (await mod.events(moderationEvents.decisionReversed)).find((e) => e.caseId === found.id),
    ).toMatchObject({ action: DecisionAction.REMOVE_CONTENT, target: { id: postId } });
    expect((await hold()).released_at).not.toBeNull();
    expect(
      (await mod.events(moderationEvents.evidenceReleased)).filter((e) => e.caseId === found.id),
    ).toHaveLength(1);
  });

  it("suspends and bans through account events, lifted when an appeal succeeds", async () => {
    const target = await mod.user();
    await mod.registered(target.id);
    const reporter = await mod.user();
    await reporter.m.reportContent({
      target: { kind: TargetKind.USER, id: target.id },
      reason: ReportReason.IMPERSONATION,
    });
    const platform = await mod.user(["moderator"]);
    const found = await caseOf(platform, target.id);
    expect(found.scope).toBe(CaseScope.PLATFORM);
    await platform.m.claimCase({ caseId: found.id });
    expect(
      await connectErrorOf(
        platform.m.resolveCase({ caseId: found.id, action: Action.SUSPEND, note: "no duration" }),
      ),
    ).toMatchObject({ code: Code.InvalidArgument });
    expect(
      await connectErrorOf(
        platform.m.resolveCase({ caseId: found.id, action: Action.REMOVE_CONTENT, note: "x" }),
      ),
    ).toMatchObject({ code: Code.InvalidArgument });
    const { decision } = await platform.m.resolveCase({
      caseId: found.id,
      action: Action.BAN,
      durationSeconds: 86_400n,
      note: "pretending to be staff",
    });
    const restricted = (await mod.events(moderationEvents.accountRestricted)).filter(
      (e) => e.caseId === found.id,
    );
    expect(restricted).toMatchObject([{ userId: target.id, kind: AccountRestrictionKind.BANNED }]);
    expect(restricted[0]?.until).toBeDefined();
    const { appeal } = await target.m.appealDecision({
      decisionId: decision?.id ?? "",
      statement: "I am staff",
    });
    const admin = await mod.user(["admin"]);
    await admin.m.resolveAppeal({
      appealId: appeal?.id ?? "",
      outcome: AppealOutcome.OVERTURN,
      note: "verified",
    });
    expect(
      (await mod.events(moderationEvents.accountRestricted))
        .filter((e) => e.caseId === found.id)
        .map((e) => e.kind),
    ).toEqual([AccountRestrictionKind.BANNED, AccountRestrictionKind.LIFTED]);
  });

  it("lets a circle moderator escalate; an expired claim is logged by the sweep", async () => {
    const { circleMod, postId } = await scene();
    await reported(await mod.user(), postId);
    const found = await caseOf(circleMod, postId);
    await circleMod.m.claimCase({ caseId: found.id });
    mod.advance(16 * 60_000);
    await waitFor(
      async () => {
        const { case: c } = await circleMod.m.getCase({ caseId: found.id });
        return c?.history.some((h) => h.kind === LogEntryKind.CLAIM_EXPIRED) ? true : undefined;
      },
      { what: "the sweep to log the expired claim" },
    );
    const { case: escalated } = await circleMod.m.escalateCase({
      caseId: found.id,
      note: "needs staff",
    });
    expect(escalated).toMatchObject({ scope: CaseScope.PLATFORM, status: CaseStatus.ESCALATED });
    expect(await connectErrorOf(circleMod.m.getCase({ caseId: found.id }))).toMatchObject({
      code: Code.NotFound,
    });
    const platform = await mod.user(["moderator"]);
    expect(
      await connectErrorOf(platform.m.escalateCase({ caseId: found.id, note: "again" })),
    ).toMatchObject({
      code: Code.FailedPrecondition,
    });
    const event = (await mod.events(moderationEvents.caseEscalated)).find(
      (e) => e.caseId === found.id,
    );
    expect(event).toMatchObject({ automatic: false, priority: CasePriority.HIGH });
  });
});
