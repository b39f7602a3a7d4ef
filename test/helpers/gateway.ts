/** A real gateway on an ephemeral port, real WebSocket clients, and a scriptable fake core. */
import { once } from 'node:events';
import { createServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import WebSocket, { type ClientOptions } from 'ws';
import type { z } from 'zod';
import { buildGateway, type Gateway } from '../../gateway/app.js';
import { defaultGatewayConfig, type gatewayConfigSchema } from '../../gateway/config.js';
import {
  type RouteGuideHandlers,
  type RouteNote,
  type RouteNote__Output,
  routeguide,
} from '../../proto/index.js';
import {
  type ErrorFrame,
  ROUTECHAT_PATH,
  type ServerFrame,
  type StatusFrame,
  SUBPROTOCOL,
} from '../../protocol/index.js';

export interface RunningGateway extends Gateway {
  readonly port: number;
  readonly wsUrl: string;
  readonly httpUrl: string;
}

export async function startGateway(
  coreAddress: string,
  overrides: Partial<z.input<typeof gatewayConfigSchema>> = {},
  /** 0: a free port; a port a test held for it (a gateway that comes back where clients retry). */
  listenPort = 0,
): Promise<RunningGateway> {
  const [host, port] = coreAddress.split(':');
  const config = defaultGatewayConfig({
    core: `${host}:${port}`,
    'log-level': 'silent',
    ...overrides,
  } as Partial<z.input<typeof gatewayConfigSchema>>);
  const gateway = await buildGateway(config);
  await gateway.app.listen({ host: '127.0.0.1', port: listenPort });
  const address = gateway.app.server.address();
  const bound = typeof address === 'object' && address ? address.port : 0;
  return {
    ...gateway,
    port: bound,
    wsUrl: `ws://127.0.0.1:${bound}${ROUTECHAT_PATH}`,
    httpUrl: `http://127.0.0.1:${bound}`,
  };
}

export interface TestClient {
  readonly ws: WebSocket;
  readonly frames: ServerFrame[];
  /** performance.now() at each frame's arrival, index for index with `frames`. */
  readonly times: number[];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  send(frame: unknown): void;
  /** Resolves once `count` frames have arrived (or rejects after a timeout). */
  waitForFrames(count: number, timeoutMs?: number): Promise<ServerFrame[]>;
}

/** A real WebSocket client recording every frame; any ws option (headers, TLS `ca`, `autoPong`…). */
export function connect(url: string, options: ClientOptions & { protocols?: string[] } = {}): TestClient {
  const { protocols = [SUBPROTOCOL], ...wsOptions } = options;
  const ws = new WebSocket(url, protocols, wsOptions);
  const frames: ServerFrame[] = [];
  const times: number[] = [];
  const listeners = new Set<() => void>();
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)) as ServerFrame);
    times.push(performance.now());
    for (const listener of listeners) listener();
  });
  ws.on('error', () => {});
  const opened = once(ws, 'open').then(() => undefined);
  opened.catch(() => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  return {
    ws,
    frames,
    times,
    opened,
    closed,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    waitForFrames(count, timeoutMs = 5000) {
      if (frames.length >= count) return Promise.resolve(frames);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(
            new Error(`timed out waiting for ${count} frames; got ${JSON.stringify(frames).slice(0, 2000)}`),
          );
        }, timeoutMs);
        const check = () => {
          if (frames.length >= count) {
            clearTimeout(timer);
            listeners.delete(check);
            resolve(frames);
          }
        };
        listeners.add(check);
      });
    },
  };
}

/** Upgrade attempt that is expected to be refused: resolves with the HTTP status. */
export function refusedStatus(
  url: string,
  headers: Record<string, string> = {},
  protocols: string[] = [SUBPROTOCOL],
): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('upgrade was accepted'));
    });
    ws.on('error', () => {});
  });
}

export const note = (latitude: number, longitude: number, message: string): RouteNote => ({
  location: { latitude, longitude },
  message,
});

/** A RouteGuide server whose RouteChat is scripted by the test; every call is recorded. */
export interface FakeCore {
  readonly address: string;
  readonly calls: { metadata: Record<string, unknown>; cancelled: boolean; received: RouteNote__Output[] }[];
  stop(): Promise<void>;
}

export async function startFakeCore(
  routeChat: RouteGuideHandlers['RouteChat'],
  serverOptions: grpc.ServerOptions = {},
): Promise<FakeCore> {
  const server = new grpc.Server(serverOptions);
  const calls: FakeCore['calls'] = [];
  const unimplemented = (_call: unknown, callback: (e: grpc.ServiceError) => void) =>
    callback({
      code: grpc.status.UNIMPLEMENTED,
      details: 'fake',
      metadata: new grpc.Metadata(),
      name: 'Error',
      message: 'fake',
    });
  server.addService(routeguide.RouteGuide.service, {
    GetFeature: unimplemented,
    ListFeatures: (call: grpc.ServerWritableStream<unknown, unknown>) => call.destroy(),
    RecordRoute: unimplemented,
    RouteChat: (call) => {
      const record = {
        metadata: call.metadata.getMap() as Record<string, unknown>,
        cancelled: false,
        received: [] as RouteNote__Output[],
      };
      calls.push(record);
      call.on('cancelled', () => {
        record.cancelled = true;
      });
      call.on('data', (n: RouteNote__Output) => record.received.push(n));
      call.on('error', () => {});
      routeChat(call);
    },
  } satisfies RouteGuideHandlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return {
    address: `127.0.0.1:${port}`,
    calls,
    stop: () =>
      new Promise((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

export async function until(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const isStatus = (frame: ServerFrame | undefined): frame is StatusFrame =>
  frame !== undefined && 'type' in frame && frame.type === 'status';
export const isError = (frame: ServerFrame | undefined): frame is ErrorFrame =>
  frame !== undefined && 'type' in frame && frame.type === 'error';

/** A TCP port that nothing listens on right now (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  server.close();
  await once(server, 'close');
  return port;
}
