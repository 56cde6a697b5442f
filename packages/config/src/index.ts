export { env } from "./fields.ts";
export { ConfigError, type ConfigIssue, deepFreeze, type LoadOptions, loadConfig } from "./load.ts";
export * from "./service.ts";
export {
  loadServiceConfig,
  type ServiceConfig,
  type ServiceConfigSpec,
  type Uses,
} from "./service-config.ts";
