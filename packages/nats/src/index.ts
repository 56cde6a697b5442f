export { NatsClient, type NatsClientOptions, type NatsConfig } from "./nats-client.ts";
