export type { ExitInfo, LineSink } from "./child.ts";
export { type ServiceSpec, services, upstreamVariable } from "./services.ts";
export { Supervisor, type SupervisorOptions } from "./supervisor.ts";
