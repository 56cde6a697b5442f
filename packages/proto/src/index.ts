/**
 * Generated protobuf code of Kindred's public API (`proto/kindred/<domain>/v1`), one namespace
 * per package so that names stay unambiguous (`contentV1.Response` is not the fetch Response).
 * Each namespace is also a subpath export, e.g. `@kindred/proto/identity/v1`.
 */
export * as circlesEventsV1 from "./circles-events-v1.ts";
export * as circlesV1 from "./circles-v1.ts";
export * as contentEventsV1 from "./content-events-v1.ts";
export * as contentV1 from "./content-v1.ts";
export * as identityEventsV1 from "./identity-events-v1.ts";
export * as identityV1 from "./identity-v1.ts";
export * as moderationEventsV1 from "./moderation-events-v1.ts";
export * as moderationV1 from "./moderation-v1.ts";
export * as notifierV1 from "./notifier-v1.ts";
export {
  type Deployable,
  deployableForService,
  type PublicService,
  publicServices,
  servicesByDeployable,
} from "./public-services.ts";
export * as realtimeV1 from "./realtime-v1.ts";
