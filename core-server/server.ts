/** Assembles the gRPC server: RouteGuide, NoteFeed, health, reflection; listening and graceful shutdown. */
import { setMaxListeners } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation, type ServingStatus as HealthStatus } from 'grpc-health-check';
import type { Logger } from 'pino';
import { formatHostPort, type HostPort } from '../common/cli-options.js';
import {
  NOTE_FEED_SERVICE_NAME,
  NOTE_STORE_HEALTH_NAME,
  packageDefinition,
  routeguide,
  SERVICE_NAME,
} from '../proto/index.js';
import { createFeatureIndex, type FeatureRecord } from './features.js';
import { createNoteFeed, createNoteFeedHandlers, type FeedLimits, type NoteFeed } from './feed/index.js';
import type { NoteBus, NoteStore } from './notes/index.js';
import { createRouteGuideHandlers, type RouteGuideServiceOptions } from './route-guide-service.js';
import { createServingStatus, type ServingStatus } from './serving-status.js';

export interface CoreServerOptions {
  readonly features: readonly FeatureRecord[];
  readonly notes: NoteStore;
  /** The bus `notes` publishes on (createNotes): the live-notes feed subscribes to it. */
  readonly bus: NoteBus;
  readonly feedLimits?: FeedLimits;
  readonly maxMessageBytes: number;
  readonly maxConcurrentStreams: number;
  readonly logger: Logger;
  readonly onNoteStored?: RouteGuideServiceOptions['onNoteStored'];
  readonly onNoteDeduplicated?: RouteGuideServiceOptions['onNoteDeduplicated'];
  /** PEM certificate and key: serve over TLS instead of plaintext. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** The store as one call uses it (traces.ts); absent: `notes` itself. */
  readonly notesForCall?: RouteGuideServiceOptions['notesForCall'];
  /** Run on every call, in order (tracing, metrics, authentication). */
  readonly interceptors?: grpc.ServerInterceptor[];
}

export class ListenError extends Error {
  override readonly name = 'ListenError';
  constructor(
    readonly code: 'ADDRESS_IN_USE' | 'LISTEN_FAILED',
    message: string,
  ) {
    super(message);
  }
}

export interface CoreServer {
  readonly grpcServer: grpc.Server;
  readonly feed: NoteFeed;
  /** Binds and starts serving; resolves to the address actually bound (port 0 → a free port). */
  listen(address: HostPort): Promise<HostPort>;
  /**
   * The health status of "" and the RouteGuide service, the one place that sets it: each cause
   * (the note store unreachable, draining) holds it down under its own name.
   */
  readonly serving: ServingStatus;
  /**
   * Drains: NOT_SERVING, GOAWAY (no new calls), each open RouteChat answers the notes it has
   * received and ends with UNAVAILABLE; other calls get up to `graceMs` to finish, then the rest
   * are cancelled. Resolves `true` when everything finished within the deadline.
   */
  shutdown(graceMs: number): Promise<boolean>;
}

export function createCoreServer(options: CoreServerOptions): CoreServer {
  const grpcServer = new grpc.Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': options.maxMessageBytes,
    'grpc.max_concurrent_streams': options.maxConcurrentStreams,
    // Allow gateway keepalive pings (every 30 s by default) also when no call is active.
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    interceptors: options.interceptors ?? [],
  });
  // Aborted when the drain starts: long-lived calls (RouteChat) end themselves instead of waiting
  // out the grace period and being cancelled, which clients read as "you cancelled" (not retried).
  const draining = new AbortController();
  // Each open RouteChat listens on this one signal until its call closes: thousands of listeners
  // are the normal case, not a leak (Node warns past 10 and would print that to stderr).
  setMaxListeners(0, draining.signal);
  const feed = createNoteFeed({
    bus: options.bus,
    ...(options.feedLimits ? { limits: options.feedLimits } : {}),
  });
  const service = routeguide.RouteGuide.service;
  grpcServer.addService(
    service,
    createRouteGuideHandlers({
      features: createFeatureIndex(options.features),
      notes: options.notes,
      ...(options.onNoteStored ? { onNoteStored: options.onNoteStored } : {}),
      ...(options.onNoteDeduplicated ? { onNoteDeduplicated: options.onNoteDeduplicated } : {}),
      ...(options.notesForCall ? { notesForCall: options.notesForCall } : {}),
      draining: draining.signal,
    }),
  );
  grpcServer.addService(routeguide.NoteFeed.service, createNoteFeedHandlers(feed));
  const statusMap: Record<string, HealthStatus> = {
    '': 'SERVING',
    [SERVICE_NAME]: 'SERVING',
    [NOTE_FEED_SERVICE_NAME]: 'SERVING',
    [NOTE_STORE_HEALTH_NAME]: 'SERVING',
  };
  const health = new HealthImplementation(statusMap);
  health.addToServer(grpcServer);
  const serving = createServingStatus(health, ['', SERVICE_NAME, NOTE_FEED_SERVICE_NAME]);
  const unwatchNotes = options.notes.watchAvailability((available) => {
    // The cause first, so a gateway that sees the core go NOT_SERVING can already ask why.
    health.setStatus(NOTE_STORE_HEALTH_NAME, available ? 'SERVING' : 'NOT_SERVING');
    serving.hold('note-store', !available);
  });
  new ReflectionService(packageDefinition).addToServer(grpcServer);

  return {
    grpcServer,
    serving,
    feed,
    listen: (address) =>
      new Promise((resolve, reject) => {
        const target = formatHostPort(address);
        const credentials = options.tls
          ? grpc.ServerCredentials.createSsl(null, [
              { cert_chain: options.tls.cert, private_key: options.tls.key },
            ])
          : grpc.ServerCredentials.createInsecure();
        grpcServer.bindAsync(target, credentials, (error, port) => {
          if (error) {
            const inUse = /EADDRINUSE|address already in use/i.test(error.message);
            reject(
              new ListenError(
                inUse ? 'ADDRESS_IN_USE' : 'LISTEN_FAILED',
                inUse
                  ? `cannot listen on ${target}: address already in use`
                  : `cannot listen on ${target}: ${error.message}`,
              ),
            );
            return;
          }
          options.logger.debug({ port }, 'bound');
          resolve({ host: address.host, port });
        });
      }),
    shutdown: (graceMs) =>
      new Promise((resolve) => {
        // Balancers see NOT_SERVING, GOAWAY turns new calls away, then open streams end.
        serving.hold('draining', true);
        unwatchNotes();
        // Watch streams never end by themselves: end them now (UNAVAILABLE) so the drain can finish.
        feed.drain();
        feed.close();
        const forceTimer = setTimeout(() => {
          options.logger.warn({ graceMs }, 'grace period over: cancelling the calls still open');
          grpcServer.forceShutdown();
          resolve(false);
        }, graceMs);
        grpcServer.tryShutdown(() => {
          clearTimeout(forceTimer);
          resolve(true);
        });
        draining.abort();
        options.logger.info({ graceMs }, 'draining: open RouteChat streams end with UNAVAILABLE');
      }),
  };
}
