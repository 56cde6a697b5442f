import { CircleService } from "./gen/kindred/circles/v1/circle_service_pb.ts";
import { PostService } from "./gen/kindred/content/v1/post_service_pb.ts";
import { SupportService } from "./gen/kindred/content/v1/support_service_pb.ts";
import { AuthService } from "./gen/kindred/identity/v1/auth_service_pb.ts";
import { UserService } from "./gen/kindred/identity/v1/user_service_pb.ts";
import { ModerationService } from "./gen/kindred/moderation/v1/moderation_service_pb.ts";
import { NotifierService } from "./gen/kindred/notifier/v1/notifier_service_pb.ts";

/**
 * Every public Connect service, grouped by the deployable (`services/<name>`) that implements
 * it. realtime speaks WebSocket only and the gateway owns no service, so neither appears here.
 */
export const servicesByDeployable = Object.freeze({
  identity: Object.freeze([AuthService, UserService] as const),
  circles: Object.freeze([CircleService] as const),
  content: Object.freeze([PostService, SupportService] as const),
  moderation: Object.freeze([ModerationService] as const),
  notifier: Object.freeze([NotifierService] as const),
});

/** A deployable that owns public Connect services. */
export type Deployable = keyof typeof servicesByDeployable;

/** A public Connect service. */
export type PublicService = (typeof servicesByDeployable)[Deployable][number];

/** Every public Connect service; the gateway exposes and routes exactly these. */
export const publicServices: readonly PublicService[] = Object.freeze(
  Object.values(servicesByDeployable).flat(),
);

const deployableByTypeName: ReadonlyMap<string, Deployable> = new Map(
  (Object.keys(servicesByDeployable) as Deployable[]).flatMap((deployable) =>
    servicesByDeployable[deployable].map((service) => [service.typeName, deployable] as const),
  ),
);

/**
 * The deployable that implements a public service, by the service's fully qualified name
 * (`"kindred.identity.v1.AuthService"` → `"identity"`); `undefined` for any other name.
 */
export function deployableForService(typeName: string): Deployable | undefined {
  return deployableByTypeName.get(typeName);
}
