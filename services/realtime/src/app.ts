import type { BaseDependencies, ServiceHost } from "@kindred/runtime";
import { ServiceKit } from "@kindred/service-kit";
import type { RealtimeConfig } from "./config.ts";
import { websocketEndpoint } from "./websocket-endpoint.ts";

/** The composition root of realtime: live connections only, no durable state, no database. */
export function createApp(
  config: RealtimeConfig,
  overrides: Partial<BaseDependencies> = {},
): ServiceHost {
  const kit = new ServiceKit(config.server, overrides);
  kit.nats(config.nats);
  return kit.host({ fallback: websocketEndpoint });
}
