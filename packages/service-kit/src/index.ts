export { eventCommands } from "./event-commands.ts";
export { EventsKit, type EventsKitOptions } from "./events.ts";
export { databaseCommands, runMigrateCommand } from "./migrate-command.ts";
export { migrateDatabase, migrateOnStart } from "./migrate-on-start.ts";
export { ServiceKit } from "./service-kit.ts";
export { followSessionRevocations, type RevocationFeedOptions } from "./session-revocations.ts";
export {
  deleteNamespaceStreams,
  publishTestEvent,
  publishTestRevocation,
  redeliverTestEvent,
} from "./test-events.ts";
export { clientFor, connectErrorOf, startReady, testServiceEnv } from "./test-host.ts";
