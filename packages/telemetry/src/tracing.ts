import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from "@opentelemetry/semantic-conventions";

export interface TracingOptions {
  service: string;
  version?: string;
  /** OTLP/HTTP base URL (e.g. `http://collector:4318`); tracing is off when unset. */
  endpoint: string | undefined;
}

/**
 * Registers a global tracer provider exporting spans by OTLP over HTTP, with W3C trace context
 * propagation. Off by default: without an endpoint nothing is registered and the OpenTelemetry
 * API stays a no-op. Disposing flushes pending spans and shuts the exporter down.
 */
export function startTracing(options: TracingOptions): AsyncDisposable & { enabled: boolean } {
  if (options.endpoint === undefined) {
    return { enabled: false, [Symbol.asyncDispose]: async () => {} };
  }
  const exporter = new OTLPTraceExporter({
    url: new URL("/v1/traces", options.endpoint).toString(),
  });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: `kindred-${options.service}`,
      [ATTR_SERVICE_VERSION]: options.version ?? "0.0.0",
    }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 1_000 })],
  });
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  propagation.setGlobalPropagator(
    new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  );
  trace.setGlobalTracerProvider(provider);
  return {
    enabled: true,
    [Symbol.asyncDispose]: async () => {
      await provider.forceFlush();
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}
