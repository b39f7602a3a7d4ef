/**
 * Prometheus metrics for the core server, and a small HTTP server that exposes them on a port of
 * their own (the gRPC port speaks only HTTP/2 gRPC). Every metric lives in the metrics object's own
 * registry: no global state. Names and meanings are listed in docs/operations.md.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { formatHostPort, type HostPort } from '../common/cli-options.js';
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
    serverInterceptor,
    rpcStarted,
    rpcFinished,
  };
}

export interface MetricsServer {
  /** The address actually bound (port 0 → a free port). */
  readonly address: HostPort;
  close(): Promise<void>;
}

/** Serves `GET /metrics` from `registry` over plain HTTP/1.1 on its own address. */
export async function startMetricsServer(registry: Registry, listen: HostPort): Promise<MetricsServer> {
  const respond = async (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
        .end('method not allowed\n');
      return;
    }
    try {
      const body = await registry.metrics();
      response.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
      response.end(request.method === 'HEAD' ? undefined : body);
    } catch (error) {
      response
        .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`metrics collection failed: ${(error as Error).message}\n`);
    }
  };
  const server = createServer((request, response) => void respond(request, response));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  const target = formatHostPort(listen);
  server.listen(listen.port, listen.host);
  try {
    // Rejects with the server's 'error' (e.g. EADDRINUSE) if that comes first.
    await once(server, 'listening');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ListenError(
      code === 'EADDRINUSE' ? 'ADDRESS_IN_USE' : 'LISTEN_FAILED',
      code === 'EADDRINUSE'
        ? `cannot serve metrics on ${target}: address already in use`
        : `cannot serve metrics on ${target}: ${(error as Error).message}`,
    );
  }
  const bound = server.address() as AddressInfo;
  return {
    address: { host: listen.host, port: bound.port },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Scrapers keep connections alive: don't let them hold the shutdown.
        server.closeAllConnections();
      }),
  };
}
