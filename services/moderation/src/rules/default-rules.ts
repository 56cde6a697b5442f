import { fileURLToPath } from "node:url";

/**
 * The path of the rules file shipped with the service (services/moderation/rules/default.json),
 * for when no file is configured. It resolves the same from src/ (tests) and dist/ (the image,
 * where `pnpm deploy` copies rules/ beside dist/).
 */
export function defaultRulesPath(): string {
  return fileURLToPath(new URL("../../rules/default.json", import.meta.url));
}
