/**
 * Prometheus metrics for the gateway: a `ConnectionObserver` that counts what the relay reports.
 * Every metric lives in the registry passed in (no global state), so each gateway and each test has
 * its own. They are served on an address of their own (`--metrics-listen`, common/metrics-http.ts),
 * never on the public one; in a cluster the primary serves every worker's, aggregated.
 * Names and meanings are listed in docs/operations.md.
 */
import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  Registry,
  type RegistryContentType,
} from 'prom-client';
import type { MetricsSource } from '../../common/metrics-http.js';
import { STATUS_NAMES } from '../../protocol/common/index.js';
import { REJECT_REASONS } from '../../protocol/v1/index.js';
import { V2_REJECT_REASONS } from '../../protocol/v2/index.js';
import type { ConnectionObserver, TraceRef } from './observer.js';

const PREFIX = 'routeguide_gateway_';

/** Connections live from seconds (a CLI note) to hours (a browser tab). */
const CONNECTION_DURATION_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 4 * 3600];
/** Time a note spends inside the gateway, one direction: parsing, validation, serialisation. */
const RELAY_LATENCY_BUCKETS = [
  0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
];

/** What is queued towards clients (the session registry's backlog), read at each scrape. */
export interface ClientBacklogStats {
  readonly bytes: number;
  readonly largest: number;
}

export interface UpstreamStats {
  readonly channels: number;
  readonly activeCalls: number;
}

export interface GatewayMetricsOptions {
  /** The upstream pool's counts, read at each scrape; can also be given later with `setUpstreamStats`. */
  readonly upstreamStats?: () => UpstreamStats;
  /** Register prom-client's process and Node.js metrics (CPU, memory, handles, event-loop lag). */
  readonly defaultMetrics?: boolean;
  /**
   * Tracing is on: the duration and latency histograms carry the trace of an observation as an
   * exemplar (`trace_id`, `span_id`), and the registry is served as OpenMetrics, the only text
   * format with exemplars. Off, the histograms and the format are Prometheus's plain ones.
   */
  readonly exemplars?: boolean;
}

export interface GatewayMetrics {
  /** Prometheus's text format, or OpenMetrics with `exemplars`. */
  readonly registry: Registry<RegistryContentType>;
  /** Pass to `buildGateway(config, { observer })`. */
  readonly observer: ConnectionObserver;
  /** What v2 connections report (`buildGateway(config, { metrics })` wires it). */
  readonly v2Observer: ConnectionObserver;
  /** Time one note spent in the gateway (WebSocket receipt → call.write, or call data → socket send). */
  observeRelayLatency(seconds: number, trace?: TraceRef): void;
  /** The upstream is built inside `buildGateway`: its stats function can be attached afterwards. */
  setUpstreamStats(stats: () => UpstreamStats): void;
  /** Likewise the sessions: what is queued towards clients, read at each scrape. */
  setClientBacklog(backlog: () => ClientBacklogStats): void;
}

export function createGatewayMetrics(
  registry: Registry<RegistryContentType> = new Registry<RegistryContentType>(),
  options: GatewayMetricsOptions = {},
): GatewayMetrics {
  const registers = [registry];
  let upstreamStats = options.upstreamStats;
  let clientBacklog: (() => ClientBacklogStats) | undefined;
  const exemplars = options.exemplars ?? false;
  if (exemplars) registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  /** With exemplars prom-client's observe takes one object (and a trace, when the observation has one). */
  const observe = exemplars
    ? (histogram: Histogram, value: number, trace?: TraceRef) =>
        histogram.observe(
          trace ? { value, exemplarLabels: { trace_id: trace.traceId, span_id: trace.spanId } } : { value },
        )
    : (histogram: Histogram, value: number) => histogram.observe(value);

  const openConnections = new Gauge({
    name: `${PREFIX}open_connections`,
    help: 'WebSocket connections currently relayed to a RouteChat call',
    registers,
  });
  const connections = new Counter({
    name: `${PREFIX}connections_total`,
    help: 'WebSocket connections accepted (upgrade completed)',
    registers,
  });
  const upgradesRefused = new Counter({
    name: `${PREFIX}upgrades_refused_total`,
    help: 'Upgrade requests refused before any WebSocket existed, by HTTP status and reason',
    labelNames: ['status_code', 'reason'] as const,
    registers,
  });
  const notesForwarded = new Counter({
    name: `${PREFIX}notes_forwarded_total`,
    help: 'Client notes accepted and written to the upstream call (counted as they happen)',
    registers,
  });
  const framesIn = new Counter({
    name: `${PREFIX}frames_in_total`,
    help: 'Frames received from clients (notes, end, rejected), added when each connection finishes',
    registers,
  });
  const framesOut = new Counter({
    name: `${PREFIX}frames_out_total`,
    help: 'Notes sent to clients, added when each connection finishes',
    registers,
  });
  const framesRejected = new Counter({
    name: `${PREFIX}frames_rejected_total`,
    help: 'Client frames answered with an error frame instead of being forwarded, by reason',
    labelNames: ['reason'] as const,
    registers,
  });
  const closes = new Counter({
    name: `${PREFIX}closes_total`,
    help: 'Finished connections by the close code the gateway sent (0: the client went first) and cause',
    labelNames: ['code', 'cause'] as const,
    registers,
  });
  const statuses = new Counter({
    name: `${PREFIX}grpc_status_total`,
    help: 'Final gRPC status of each finished connection, by status name',
    labelNames: ['status'] as const,
    registers,
  });
  const connectionDuration = new Histogram({
    name: `${PREFIX}connection_duration_seconds`,
    help: 'Lifetime of finished connections, from upgrade to the end of the call',
    buckets: CONNECTION_DURATION_BUCKETS,
    enableExemplars: exemplars,
    registers,
  });
  const relayLatency = new Histogram({
    name: `${PREFIX}relay_latency_seconds`,
    help: 'Latency the gateway adds to one v1 note, in either direction (v2 does not report it)',
    buckets: RELAY_LATENCY_BUCKETS,
    enableExemplars: exemplars,
    registers,
  });
  const v2OpenConnections = new Gauge({
    name: `${PREFIX}v2_open_connections`,
    help: 'Protocol v2 WebSocket connections currently open',
    registers,
  });
  const v2Connections = new Counter({
    name: `${PREFIX}v2_connections_total`,
    help: 'Protocol v2 WebSocket connections accepted (upgrade completed)',
    registers,
  });
  const v2Closes = new Counter({
    name: `${PREFIX}v2_closes_total`,
    help: 'Finished v2 connections by the close code the gateway sent (0: the client went first) and cause',
    labelNames: ['code', 'cause'] as const,
    registers,
  });
  const v2ConnectionDuration = new Histogram({
    name: `${PREFIX}v2_connection_duration_seconds`,
    help: 'Lifetime of finished v2 connections, from upgrade to close',
    buckets: CONNECTION_DURATION_BUCKETS,
    enableExemplars: exemplars,
    registers,
  });
  const v2OpenStreams = new Gauge({
    name: `${PREFIX}v2_open_streams`,
    help: 'v2 streams currently open (each one upstream call)',
    registers,
  });
  const v2StreamsOpened = new Counter({
    name: `${PREFIX}v2_streams_opened_total`,
    help: 'v2 streams that became an upstream call, by method',
    labelNames: ['method'] as const,
    registers,
  });
  const v2StreamsFinished = new Counter({
    name: `${PREFIX}v2_streams_finished_total`,
    help: 'v2 streams ended, by method and final status (refused opens included)',
    labelNames: ['method', 'code'] as const,
    registers,
  });
  const v2ErrorFrames = new Counter({
    name: `${PREFIX}v2_error_frames_total`,
    help: 'v2 error frames sent to clients, by reason',
    labelNames: ['reason'] as const,
    registers,
  });
  new Gauge({
    name: `${PREFIX}client_queued_bytes`,
    help: 'Bytes queued to clients and not yet written to their sockets, over every socket',
    registers,
    collect() {
      if (clientBacklog) this.set(clientBacklog().bytes);
    },
  });
  new Gauge({
    name: `${PREFIX}client_queued_bytes_max`,
    help: 'The most bytes queued to one client socket (bounded by --socket-high-water-mark plus one frame)',
    // Across cluster workers the largest of theirs, not their sum.
    aggregator: 'max',
    registers,
    collect() {
      if (clientBacklog) this.set(clientBacklog().largest);
    },
  });
  new Gauge({
    name: `${PREFIX}upstream_channels`,
    help: 'HTTP/2 channels open to the core (v1 and v2 share them)',
    registers,
    collect() {
      if (upstreamStats) this.set(upstreamStats().channels);
    },
  });
  new Gauge({
    name: `${PREFIX}upstream_active_calls`,
    help: 'Calls open to the core, v1 and v2',
    registers,
    collect() {
      if (upstreamStats) this.set(upstreamStats().activeCalls);
    },
  });

  // Children bound once, so that a rejected frame costs no label object of ours; known label
  // values also appear at 0 from the first scrape, as Prometheus recommends.
  const rejectedByReason = new Map<string, Counter.Internal>(
    REJECT_REASONS.map((reason) => [reason, framesRejected.labels(reason)]),
  );
  for (const child of rejectedByReason.values()) child.inc(0);
  for (const status of STATUS_NAMES) statuses.inc({ status }, 0);
  for (const reason of V2_REJECT_REASONS) v2ErrorFrames.inc({ reason }, 0);

  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const observer: ConnectionObserver = {
    opened() {
      connections.inc();
      openConnections.inc();
    },
    rejected(reason) {
      const child = rejectedByReason.get(reason);
      if (child) child.inc();
      else framesRejected.inc({ reason });
    },
    forwarded() {
      notesForwarded.inc();
    },
    finished(outcome, durationMs, trace) {
      openConnections.dec();
      framesIn.inc(outcome.framesIn);
      framesOut.inc(outcome.messagesOut);
      closes.inc({ code: String(outcome.closeCode), cause: outcome.cause });
      statuses.inc({ status: outcome.status.name });
      observe(connectionDuration, durationMs / 1000, trace);
    },
    refused(statusCode, reason) {
      upgradesRefused.inc({ status_code: String(statusCode), reason });
    },
  };

  const v2Observer: ConnectionObserver = {
    opened() {
      v2Connections.inc();
      v2OpenConnections.inc();
    },
    finished(outcome, durationMs, trace) {
      v2OpenConnections.dec();
      v2Closes.inc({ code: String(outcome.closeCode), cause: outcome.cause });
      observe(v2ConnectionDuration, durationMs / 1000, trace);
    },
    rejected(reason) {
      v2ErrorFrames.inc({ reason });
    },
    streamOpened(method) {
      v2OpenStreams.inc();
      v2StreamsOpened.inc({ method });
    },
    streamFinished(method, status, opened) {
      if (opened) v2OpenStreams.dec();
      v2StreamsFinished.inc({ method, code: status.name });
    },
  };

  return {
    registry,
    observer,
    v2Observer,
    // Per note: off, the plain observe and nothing else.
    observeRelayLatency: exemplars
      ? (seconds, trace) => observe(relayLatency, seconds, trace)
      : (seconds) => relayLatency.observe(seconds),
    setUpstreamStats(stats) {
      upstreamStats = stats;
    },
    setClientBacklog(backlog) {
      clientBacklog = backlog;
    },
  };
}

/**
 * A per-note observation with `trace` as its exemplar on the 1st, 2nd, 4th, 8th… call only, like
 * the stream's message events: prom-client's exemplar bookkeeping on every note cost the traced
 * gateway ~50% more CPU per note in bench/tracing-micro.ts (bench/README.md#tracing).
 */
export function withSampledExemplars(
  observe: (value: number, trace?: TraceRef) => void,
  trace: TraceRef,
): (value: number) => void {
  let observed = 0;
  return (value) => {
    observed += 1;
    observe(value, (observed & (observed - 1)) === 0 ? trace : undefined);
  };
}

/**
 * In a cluster worker: answer the primary's scrapes with `registry` (prom-client's cluster protocol
 * over the IPC channel). The worker serves no metrics address of its own: workers share ports, so a
 * scraper would reach a different worker each time.
 */
export function shareWithClusterPrimary(registry: Registry<RegistryContentType>): void {
  AggregatorRegistry.setRegistries([registry as Registry]);
  // Constructing one attaches the worker's listener for the primary's requests.
  new AggregatorRegistry();
}

/**
 * In the cluster primary: one scrape collects every worker's registry and aggregates it (counters,
 * gauges and histograms summed; event-loop figures averaged; version info taken once).
 */
export function clusterMetricsSource(): MetricsSource {
  const aggregator = new AggregatorRegistry();
  return { contentType: aggregator.contentType, metrics: () => aggregator.clusterMetrics() };
}
