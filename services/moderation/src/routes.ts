import type { ConnectRouter } from "@connectrpc/connect";
import { ModerationService } from "@kindred/proto/moderation/v1";
import type { ModerationDeps } from "./deps.ts";
import { appealDecision } from "./rpc/appeal-decision.ts";
import { claimCase } from "./rpc/claim-case.ts";
import { escalateCase } from "./rpc/escalate-case.ts";
import { getCase } from "./rpc/get-case.ts";
import { listModerationLog } from "./rpc/list-moderation-log.ts";
import { listMyDecisions } from "./rpc/list-my-decisions.ts";
import { listQueue } from "./rpc/list-queue.ts";
import { muteReporter, unmuteReporter } from "./rpc/mute-reporter.ts";
import { reportContent } from "./rpc/report-content.ts";
import { resolveAppeal } from "./rpc/resolve-appeal.ts";
import { resolveCase } from "./rpc/resolve-case.ts";

/** The public Connect services moderation owns: one file per method under `rpc/`. */
export function routes(deps: ModerationDeps) {
  return (router: ConnectRouter) => {
    router.service(ModerationService, {
      reportContent: reportContent(deps),
      listQueue: listQueue(deps),
      getCase: getCase(deps),
      claimCase: claimCase(deps),
      resolveCase: resolveCase(deps),
      escalateCase: escalateCase(deps),
      appealDecision: appealDecision(deps),
      resolveAppeal: resolveAppeal(deps),
      listMyDecisions: listMyDecisions(deps),
      listModerationLog: listModerationLog(deps),
      muteReporter: muteReporter(deps),
      unmuteReporter: unmuteReporter(deps),
    });
  };
}
