export { currentLogContext, type LogContext, withLogContext } from "./context.ts";
export {
  createLogger,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  redactedPaths,
} from "./logger.ts";
