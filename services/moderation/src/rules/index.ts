export {
  formatPath,
  parseRulesConfig,
  parseRulesJson,
  type RuleFields,
  type RulesConfig,
  RulesConfigError,
  type RulesConfigIssue,
  rulesConfigSchema,
} from "./config.ts";
export { defaultRulesPath } from "./default-rules.ts";
export { RulesEngine } from "./engine.ts";
export { type NormalizedText, normalizeText } from "./normalize.ts";
export {
  type RulesLogger,
  type RulesReload,
  RulesSource,
  type RulesSourceOptions,
} from "./rules-source.ts";
export { fingerprint } from "./scanned-text.ts";
export * from "./types.ts";
export { combineVerdict } from "./verdict.ts";
