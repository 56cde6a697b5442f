import type { HandlerContext } from "@connectrpc/connect";
import { requirePrincipal } from "@kindred/auth";
import type { GetSosRequest, GetSosResponse } from "@kindred/proto/content/v1";
import type { SosDeps } from "../deps.ts";
import { alertNotFound } from "../sos-access.ts";
import { acknowledgementsOf, findAlert, toSosAlert } from "../sos-alerts.ts";

/**
 * An alert for its raiser or an active member of its circle (`SosRules`); without its message
 * across a block with the raiser. Anyone else gets `not_found`.
 */
export function getSos({ db, sos }: Pick<SosDeps, "db" | "sos">) {
  return async (req: GetSosRequest, ctx: HandlerContext): Promise<Partial<GetSosResponse>> => {
    const { userId } = requirePrincipal(ctx);
    const alert = await findAlert(db.kysely, req.alertId);
    if (alert === undefined) throw alertNotFound();
    const viewer = await sos.requireViewer(alert, userId, ctx.signal);
    const acks = await acknowledgementsOf(db.kysely, [alert.id]);
    return { alert: toSosAlert(alert, acks.get(alert.id) ?? [], viewer) };
  };
}
