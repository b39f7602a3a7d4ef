/** Several cores behind one gateway: a core whose health the test sets, and reading a core's streams. */
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import {
  type RouteGuideHandlers,
  type RouteNote__Output,
  routeguide,
  SERVICE_NAME,
} from '../../proto/index.js';
import { sample } from './prometheus.js';

export const ROUTE_CHAT_METHOD = `/${SERVICE_NAME}/RouteChat`;
export const HEALTH_WATCH_METHOD = '/grpc.health.v1.Health/Watch';

/** A RouteGuide server whose RouteChat keeps every call open (echoing notes), with settable health. */
export interface HealthFakeCore {
  readonly address: string;
  /** Every RouteChat call that reached this core, still open or not. */
  readonly calls: grpc.ServerDuplexStream<RouteNote__Output, RouteNote__Output>[];
  setStatus(status: ServingStatus): void;
  stop(): void;
}

export async function startHealthFakeCore(status: ServingStatus): Promise<HealthFakeCore> {
  const server = new grpc.Server();
  const calls: HealthFakeCore['calls'] = [];
  const unimplemented = (_call: unknown, callback: (e: Partial<grpc.StatusObject>) => void) =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: 'fake' });
  server.addService(routeguide.RouteGuide.service, {
    GetFeature: unimplemented,
    ListFeatures: (call: grpc.ServerWritableStream<unknown, unknown>) => call.destroy(),
    RecordRoute: unimplemented,
    RouteChat: (call) => {
      calls.push(call);
      call.on('error', () => {});
      call.on('data', (note: RouteNote__Output) => call.write(note));
      call.on('end', () => call.end());
    },
  } satisfies RouteGuideHandlers);
  const health = new HealthImplementation({ '': status, [SERVICE_NAME]: status });
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return {
    address: `127.0.0.1:${port}`,
    calls,
    setStatus(next) {
      health.setStatus('', next);
      health.setStatus(SERVICE_NAME, next);
    },
    stop: () => server.forceShutdown(),
  };
}

/** Streams of `method` open on a core, from its Prometheus endpoint. */
export async function activeStreams(metricsUrl: string, method: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  return sample(text, 'routeguide_core_active_streams', { method }) ?? 0;
}
