export { createTestDatabase, databaseUrlFor, type TestDatabase } from "./database.ts";
export { testEnv } from "./env.ts";
export { uniqueName } from "./names.ts";
export { closedPort } from "./ports.ts";
export { TcpProxy } from "./tcp-proxy.ts";
export { waitFor } from "./wait.ts";
