/**
 * OpenTelemetry tracing for a process (the gateway, the core), configured the standard way by the
 * OTEL_* environment variables. Off unless an OTLP endpoint is set: then the SDK is not even loaded
 * (dynamic import), and callers get no tracer, so the code that would make spans is never reached.
 *
 * What is read, and by whom:
 * - here: whether tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
 *   OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none turn it off), which exporters
 *   (OTEL_TRACES_EXPORTER: otlp, console), and which OTLP protocol (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
 *   else OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf by default, http/json, grpc);
 * - by the SDK itself: the sampler (OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG), the batch
 *   processor (OTEL_BSP_*), the resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) and the
 *   exporter's endpoint, headers, timeout and compression (OTEL_EXPORTER_OTLP_*).
 */
import type { Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { ConfigError } from './cli-options.js';

export type TraceExporterName = 'otlp' | 'console';
export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';

export type TracingSettings =
  | { readonly enabled: false; readonly why: string }
  | {
      readonly enabled: true;
      readonly exporters: readonly TraceExporterName[];
      readonly protocol: OtlpProtocol;
    };

export interface Tracing {
  /** The process's tracer; undefined when tracing is off (nothing else to check). */
  readonly tracer: Tracer | undefined;
  /** Ends the export: what is still batched is sent first. Safe to call when off, and twice. */
  shutdown(): Promise<void>;
}

type Env = Readonly<Record<string, string | undefined>>;

const PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'http/json', 'grpc'];
const EXPORTERS: readonly string[] = ['otlp', 'console', 'none'];

const setting = (env: Env, name: string): string | undefined => {
  const value = env[name]?.trim();
  return value ? value : undefined;
};

/** Pure: what the environment asks for. An unknown exporter or protocol is a ConfigError. */
export function tracingSettings(env: Env): TracingSettings {
  if (setting(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true')
    return { enabled: false, why: 'OTEL_SDK_DISABLED=true' };
  const endpoint =
    setting(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? setting(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (!endpoint) return { enabled: false, why: 'no OTEL_EXPORTER_OTLP_ENDPOINT' };
  const names = (setting(env, 'OTEL_TRACES_EXPORTER') ?? 'otlp')
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name.length > 0);
  const unknown = names.find((name) => !EXPORTERS.includes(name));
  if (unknown !== undefined)
    throw new ConfigError(`OTEL_TRACES_EXPORTER: unknown exporter "${unknown}" (otlp, console or none)`);
  if (names.includes('none')) return { enabled: false, why: 'OTEL_TRACES_EXPORTER=none' };
  const protocol =
    setting(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ??
    setting(env, 'OTEL_EXPORTER_OTLP_PROTOCOL') ??
    'http/protobuf';
  if (!(PROTOCOLS as readonly string[]).includes(protocol))
    throw new ConfigError(
      `OTEL_EXPORTER_OTLP_PROTOCOL: unknown protocol "${protocol}" (${PROTOCOLS.join(', ')})`,
    );
  return {
    enabled: true,
    exporters: [...new Set(names)] as TraceExporterName[],
    protocol: protocol as OtlpProtocol,
  };
}

const TRACING_OFF: Tracing = { tracer: undefined, shutdown: async () => {} };

export interface StartTracingOptions {
  /**
   * Register the provider globally, with the W3C trace-context propagator (default). `npm start` runs the core and the gateway in one process: the second
   * service gets a provider of its own, not registered, and uses the first one's propagator.
   */
  readonly global?: boolean;
}

/**
 * Starts tracing when the environment asks for it: a tracer provider, spans batched to the chosen
 * exporters. `defaultServiceName` is the resource's service.name unless OTEL_SERVICE_NAME or
 * OTEL_RESOURCE_ATTRIBUTES names one. SDK diagnostics (a collector that cannot be reached) go to `logger`.
 */
export async function startTracing(
  defaultServiceName: string,
  logger: Logger,
  env: Env = process.env,
  options: StartTracingOptions = {},
): Promise<Tracing> {
  const settings = tracingSettings(env);
  if (!settings.enabled) return TRACING_OFF;
  const [api, sdk, resources, conventions] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/semantic-conventions'),
  ]);
  const log = logger.child({ component: 'otel' });
  api.diag.setLogger(
    {
      error: (message, ...rest) => log.warn({ detail: rest.map(String) }, message),
      warn: (message, ...rest) => log.warn({ detail: rest.map(String) }, message),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    api.DiagLogLevel.WARN,
  );
  const exporters = await Promise.all(
    settings.exporters.map(async (name) => {
      if (name === 'console') return new sdk.ConsoleSpanExporter();
      if (settings.protocol === 'http/json')
        return new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter();
      if (settings.protocol === 'grpc')
        return new (await import('@opentelemetry/exporter-trace-otlp-grpc')).OTLPTraceExporter();
      return new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
    }),
  );
  const resource = resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ [conventions.ATTR_SERVICE_NAME]: defaultServiceName }))
    .merge(
      resources.detectResources({
        detectors: [resources.hostDetector, resources.processDetector, resources.envDetector],
      }),
    );
  // The host and process detectors settle asynchronously; the log line below reads the service name.
  await resource.waitForAsyncAttributes?.();
  const provider = new sdk.NodeTracerProvider({
    resource,
    spanProcessors: exporters.map((exporter) => new sdk.BatchSpanProcessor(exporter)),
  });
  const global = options.global ?? true;
  // No context manager: our spans are parented explicitly (the gateway's calls, the core's store
  // operations), and the AsyncLocalStorage one would tax every promise and callback in the process
  // (bench/README.md#tracing measured it). The W3C trace-context propagator is registered.
  if (global) provider.register({ contextManager: null });
  log.info(
    {
      exporters: settings.exporters,
      protocol: settings.exporters.includes('otlp') ? settings.protocol : undefined,
      service: resource.attributes[conventions.ATTR_SERVICE_NAME],
    },
    'tracing on',
  );
  let stopped: Promise<void> | undefined;
  return {
    tracer: global ? api.trace.getTracer(defaultServiceName) : provider.getTracer(defaultServiceName),
    shutdown: () => {
      stopped ??= provider.shutdown().catch((error: unknown) => {
        log.warn({ err: error }, 'tracing shutdown failed');
      });
      return stopped;
    },
  };
}
