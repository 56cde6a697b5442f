export {
  benchReportHeader,
  markdownTable,
  replaceBenchSection,
  textTable,
  writeBenchSection,
} from "./bench-report.ts";
export { createTestDatabase, databaseUrlFor, type TestDatabase } from "./database.ts";
export { testEnv } from "./env.ts";
export { uniqueName, uniqueStreamNames } from "./names.ts";
export { TestNatsServer } from "./nats-server.ts";
export { canConnect, closedPort } from "./ports.ts";
export { type LogEntry, recordingLogger } from "./recording-logger.ts";
export { stringService } from "./string-service.ts";
export { TcpProxy } from "./tcp-proxy.ts";
export { waitFor, waitUntil } from "./wait.ts";
