import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createValidateInterceptor } from "@connectrpc/validate";
import type { Logger } from "@kindred/logging";
import type { ServiceMetrics } from "@kindred/telemetry";
import { errorMappingInterceptor } from "./error-mapping.ts";
import { handleHealthRequest } from "./health-routes.ts";
import { DrainingHttpServer, type RequestHandler, type UpgradeHandler } from "./http-server.ts";
import { Lifecycle } from "./lifecycle.ts";
import { type HealthCheck, Readiness } from "./readiness.ts";
import { peerAddressKey, requestContextInterceptor } from "./request-context.ts";
import { rpcMetricsInterceptor } from "./rpc-metrics.ts";

export interface HostSettings {
  name: string;
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  healthPort: number;
  shutdownTimeoutMs: number;
}

export interface ServiceHostOptions {
  settings: HostSettings;
  logger: Logger;
  metrics: ServiceMetrics;
  /** The Connect services this deployable implements. */
  routes?: (router: ConnectRouter) => void;
  /** Serves non-RPC paths on the main port (REST, proxying); 404 when absent. */
  fallback?: RequestHandler;
  onUpgrade?: UpgradeHandler;
  checks?: HealthCheck[];
  /** Extra interceptors (authentication), run after context, metrics and error mapping and before validation. */
  interceptors?: Interceptor[];
  /** Upper bound for a caller's deadline. */
  maxTimeoutMs?: number;
  /** A lifecycle built before the host (resources created first register their stop steps). */
  lifecycle?: Lifecycle;
  /**
   * Runs when draining starts, before the main port closes: where a service ends long-lived
   * connections it owns (realtime closes its WebSockets with 1012). Gets the shutdown deadline.
   */
  onDrain?: (deadline: AbortSignal) => Promise<void>;
  /** How long a readiness result is reused (tests use 0). */
  readinessCacheMs?: number;
}

const notFound: RequestHandler = (_req, res) => {
  res.writeHead(404, { "content-type": "application/json" });
  res.end(JSON.stringify({ code: "not_found", message: "no such route" }));
};

/**
 * The skeleton every Kindred deployable shares: a health port (`/livez`, `/readyz`,
 * `/metrics`) that is up first and down last, a main port serving Connect (plus `/livez` and
 * `/readyz`), a lifecycle for the service's own resources, and a graceful stop: readiness
 * turns 503, the main port stops accepting and drains in-flight requests, then resources are
 * closed in reverse order of creation — all inside `shutdownTimeoutMs`.
 */
export class ServiceHost {
  readonly lifecycle: Lifecycle;
  readonly readiness: Readiness;
  readonly logger: Logger;
  readonly #options: ServiceHostOptions;
  readonly #health: DrainingHttpServer;
  readonly #main: DrainingHttpServer;
  #ports: { port: number; healthPort: number } | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: ServiceHostOptions) {
    this.#options = options;
    this.logger = options.logger;
    this.lifecycle = options.lifecycle ?? new Lifecycle(options.logger);
    this.readiness = new Readiness(options.checks ?? [], {
      metrics: options.metrics,
      ...(options.readinessCacheMs === undefined ? {} : { cacheMs: options.readinessCacheMs }),
    });
    this.#health = new DrainingHttpServer((req, res) => {
      if (!handleHealthRequest(req, res, this.readiness, options.metrics)) notFound(req, res);
    });
    const rpc = connectNodeAdapter({
      routes: options.routes ?? (() => {}),
      // The main port is plain HTTP/1.1, so the fallback only ever sees node:http requests.
      fallback: (options.fallback ?? notFound) as Parameters<
        typeof connectNodeAdapter
      >[0]["fallback"],
      maxTimeoutMs: options.maxTimeoutMs ?? 30_000,
      contextValues: (req) =>
        createContextValues().set(peerAddressKey, req.socket.remoteAddress ?? ""),
      interceptors: [
        requestContextInterceptor(),
        rpcMetricsInterceptor(options.metrics),
        errorMappingInterceptor(options.logger),
        // Authentication (an extra interceptor) runs before validation: an anonymous caller
        // learns nothing about a request's shape.
        ...(options.interceptors ?? []),
        createValidateInterceptor(),
      ],
    });
    this.#main = new DrainingHttpServer(
      (req, res) => {
        if (!handleHealthRequest(req, res, this.readiness)) rpc(req, res);
      },
      options.onUpgrade === undefined ? {} : { onUpgrade: options.onUpgrade },
    );
  }

  get ports(): { port: number; healthPort: number } {
    if (this.#ports === undefined) throw new Error("not started");
    return this.#ports;
  }

  get url(): string {
    return `http://${this.#options.settings.host}:${this.ports.port}`;
  }

  get healthUrl(): string {
    return `http://${this.#options.settings.host}:${this.ports.healthPort}`;
  }

  /**
   * Opens the health port, runs the lifecycle's start steps, then opens the main port. Start
   * steps must not wait for dependencies: readiness reports those until they answer.
   */
  async start(signal: AbortSignal = new AbortController().signal): Promise<void> {
    const { settings } = this.#options;
    const healthPort = await this.#health.listen(settings.healthPort, settings.host);
    try {
      await this.lifecycle.start(signal);
      const port = await this.#main.listen(settings.port, settings.host);
      this.#ports = { port, healthPort };
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.readiness.serving();
    this.logger.info({ port: this.#ports.port, healthPort, host: settings.host }, "serving");
  }

  /** Graceful stop; safe to call more than once (later calls wait for the first). */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const started = Date.now();
    const deadline = AbortSignal.timeout(this.#options.settings.shutdownTimeoutMs);
    this.readiness.draining();
    this.logger.info({ inFlight: this.#main.inFlight }, "draining");
    try {
      await this.#options.onDrain?.(deadline);
    } catch (err) {
      this.logger.error({ err }, "drain hook failed");
    }
    const { cut } = await this.#main.close(deadline);
    if (cut > 0) this.logger.warn({ cut }, "shutdown deadline passed: cut in-flight requests");
    await this.lifecycle.stop(deadline);
    await this.#health.close(deadline);
    this.logger.info({ ms: Date.now() - started }, "stopped");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}
