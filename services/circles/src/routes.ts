import type { ConnectRouter } from "@connectrpc/connect";
import { CircleService } from "@kindred/proto/circles/v1";
import type { CirclesDeps } from "./deps.ts";
import { archiveCircle } from "./rpc/archive-circle.ts";
import { banMember } from "./rpc/ban-member.ts";
import { createCircle } from "./rpc/create-circle.ts";
import { createInvite } from "./rpc/create-invite.ts";
import { discoverCircles } from "./rpc/discover-circles.ts";
import { getCircle } from "./rpc/get-circle.ts";
import { joinCircle } from "./rpc/join-circle.ts";
import { leaveCircle } from "./rpc/leave-circle.ts";
import { listBans } from "./rpc/list-bans.ts";
import { listMembers } from "./rpc/list-members.ts";
import { listMyCircles } from "./rpc/list-my-circles.ts";
import { removeMember } from "./rpc/remove-member.ts";
import { revokeInvite } from "./rpc/revoke-invite.ts";
import { setMemberRole } from "./rpc/set-member-role.ts";
import { unbanMember } from "./rpc/unban-member.ts";
import { updateCircle } from "./rpc/update-circle.ts";

/** The public Connect services circles owns: one file per method under `rpc/`. */
export function routes(deps: CirclesDeps) {
  return (router: ConnectRouter) => {
    router.service(CircleService, {
      createCircle: createCircle(deps),
      getCircle: getCircle(deps),
      updateCircle: updateCircle(deps),
      archiveCircle: archiveCircle(deps),
      listMyCircles: listMyCircles(deps),
      discoverCircles: discoverCircles(deps),
      joinCircle: joinCircle(deps),
      createInvite: createInvite(deps),
      revokeInvite: revokeInvite(deps),
      leaveCircle: leaveCircle(deps),
      listMembers: listMembers(deps),
      setMemberRole: setMemberRole(deps),
      removeMember: removeMember(deps),
      banMember: banMember(deps),
      unbanMember: unbanMember(deps),
      listBans: listBans(deps),
    });
  };
}
