/**
 * Prometheus metrics for the core server, exposed on a port of their own by the shared metrics
 * server (common/metrics-http.ts; the gRPC port speaks only HTTP/2 gRPC). Every metric lives in the metrics object's own
 * registry: no global state. Names and meanings are listed in docs/operations.md.
 */
import * as grpc from '@grpc/grpc-js';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { HostPort } from '../common/cli-options.js';
import {
  MetricsListenError,
  type MetricsServer,
  startMetricsServer as serveMetrics,
} from '../common/metrics-http.js';
import type { NoteStore } from './notes/index.js';
import type { RouteGuideServiceOptions } from './route-guide-service.js';
import { ListenError } from './server.js';

const PREFIX = 'routeguide_core_';

export interface CoreMetricsOptions {
  readonly registry?: Registry;
  /** The note store's sizes, read at each scrape (e.g. `() => store.stats()`). */
  readonly noteStoreStats?: NoteStore['stats'];
  /** Register prom-client's process and Node.js metrics (CPU, memory, handles, event-loop lag). */
  readonly defaultMetrics?: boolean;
}

export interface CoreMetrics {
  readonly registry: Registry;
  /** Pass as `onNoteStored` to `createCoreServer` / `createRouteGuideHandlers`. */
  readonly onNoteStored: NonNullable<RouteGuideServiceOptions['onNoteStored']>;
  /** Pass as `onNoteDeduplicated`: resent notes answered as already stored. */
  readonly onNoteDeduplicated: NonNullable<RouteGuideServiceOptions['onNoteDeduplicated']>;
  /**
   * Counts every RPC of a registered method (RouteGuide, health, reflection): add it to the
   * `interceptors` option of `new grpc.Server(...)`.
   */
  readonly serverInterceptor: grpc.ServerInterceptor;
  /** For callers that count RPCs themselves instead of through the interceptor. */
  rpcStarted(method: string): void;
  rpcFinished(method: string, code: grpc.status): void;
}

const codeName = (code: number): string => grpc.status[code] ?? 'UNKNOWN';

export function createCoreMetrics(options: CoreMetricsOptions = {}): CoreMetrics {
  const registry = options.registry ?? new Registry();
  const registers = [registry];
  const { noteStoreStats } = options;

  const notesStored = new Counter({
    name: `${PREFIX}notes_stored_total`,
    help: 'RouteChat notes accepted and stored',
    registers,
  });
  const notesDeduplicated = new Counter({
    name: `${PREFIX}notes_deduplicated_total`,
    help: 'RouteChat notes resent under a note-session and answered as already stored, not stored again',
    registers,
  });
  const rpcsStarted = new Counter({
    name: `${PREFIX}rpcs_started_total`,
    help: 'RPCs started, by full method path',
    labelNames: ['method'] as const,
    registers,
  });
  const rpcsFinished = new Counter({
    name: `${PREFIX}rpcs_finished_total`,
    help: 'RPCs finished, by full method path and final gRPC status name',
    labelNames: ['method', 'code'] as const,
    registers,
  });
  const activeStreams = new Gauge({
    name: `${PREFIX}active_streams`,
    help: 'RPCs (HTTP/2 streams) in progress, by full method path',
    labelNames: ['method'] as const,
    registers,
  });
  const storeGauge = (name: string, help: string, read: (stats: ReturnType<NoteStore['stats']>) => number) =>
    new Gauge({
      name: `${PREFIX}note_store_${name}`,
      help,
      registers,
      collect() {
        if (noteStoreStats) this.set(read(noteStoreStats()));
      },
    });
  storeGauge('notes', 'Notes held in the note store', (stats) => stats.notes);
  storeGauge('locations', 'Distinct locations with at least one note', (stats) => stats.locations);
  storeGauge('bytes', 'Message bytes (UTF-8) held in the note store', (stats) => stats.bytes);

  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const rpcStarted = (method: string) => {
    rpcsStarted.inc({ method });
    activeStreams.inc({ method });
  };
  const rpcFinished = (method: string, code: grpc.status) => {
    rpcsFinished.inc({ method, code: codeName(code) });
    activeStreams.dec({ method });
  };

  const serverInterceptor: grpc.ServerInterceptor = (descriptor, call) => {
    const method = descriptor.path;
    let finished = false;
    const finish = (code: grpc.status) => {
      if (finished) return;
      finished = true;
      rpcFinished(method, code);
    };
    rpcStarted(method);
    return new grpc.ServerInterceptingCall(call, {
      // grpc-js reports onCancel after every call, also after a status was sent: the first wins.
      // A call that ends without a status from the handler (client cancel, deadline, reset) is CANCELLED.
      start: (next) => next({ onCancel: () => finish(grpc.status.CANCELLED) }),
      sendStatus: (status, next) => {
        finish(status.code);
        next(status);
      },
    });
  };

  return {
    registry,
    onNoteStored: () => notesStored.inc(),
    onNoteDeduplicated: () => notesDeduplicated.inc(),
    serverInterceptor,
    rpcStarted,
    rpcFinished,
  };
}

export type { MetricsServer } from '../common/metrics-http.js';

/** Serves `GET /metrics` from `registry` on its own address (common/metrics-http.ts); a bind failure is a ListenError. */
export async function startMetricsServer(registry: Registry, listen: HostPort): Promise<MetricsServer> {
  try {
    return await serveMetrics(registry, listen);
  } catch (error) {
    throw error instanceof MetricsListenError ? new ListenError(error.code, error.message) : error;
  }
}
