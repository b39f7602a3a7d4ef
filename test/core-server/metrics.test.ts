/** The core's metrics and the separate HTTP server that exposes them, on ephemeral ports. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { getFeature, routeChat } from '../../clients/grpc/walkthrough.js';
import { formatHostPort } from '../../common/cli-options.js';
import { createFeatureIndex, DEFAULT_FEATURE_DB, loadFeatures } from '../../core-server/features.js';
import {
  type CoreMetrics,
  createCoreMetrics,
  type MetricsServer,
  startMetricsServer,
} from '../../core-server/metrics.js';
import { createMemoryNoteStore } from '../../core-server/notes/index.js';
import { createRouteGuideHandlers } from '../../core-server/route-guide-service.js';
import { ListenError } from '../../core-server/server.js';
import {
  ROUTE_CHAT_METHOD,
  type RouteGuideClient,
  type RouteGuideHandlers,
  routeguide,
  SERVICE_NAME,
} from '../../proto/index.js';
import { type RunningCore, startCore } from '../helpers/core.js';
import { sample } from '../helpers/prometheus.js';

const GET_FEATURE_METHOD = `/${SERVICE_NAME}/GetFeature`;

const scrape = async (server: MetricsServer) => {
  const response = await fetch(`http://${formatHostPort(server.address)}/metrics`);
  assert.equal(response.status, 200);
  return response.text();
};

describe('core metrics server', () => {
  test('serves GET /metrics on its own port, and nothing else', async () => {
    const metrics = createCoreMetrics();
    const server = await startMetricsServer(metrics.registry, { host: '127.0.0.1', port: 0 });
    try {
      assert.ok(server.address.port > 0);
      const base = `http://${formatHostPort(server.address)}`;
      const ok = await fetch(`${base}/metrics`);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('content-type'), metrics.registry.contentType);
      const text = await ok.text();
      assert.equal(sample(text, 'routeguide_core_notes_stored_total'), 0);
      assert.notEqual(sample(text, 'nodejs_eventloop_lag_seconds'), undefined);
      assert.equal((await fetch(`${base}/metrics?x=1`)).status, 200);
      assert.equal((await fetch(`${base}/`)).status, 404);
      assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
      const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
      assert.equal(head.status, 200);
    } finally {
      await server.close();
    }
  });

  test('a port in use is a ListenError, like the gRPC listener', async () => {
    const metrics = createCoreMetrics({ defaultMetrics: false });
    const first = await startMetricsServer(metrics.registry, { host: '127.0.0.1', port: 0 });
    try {
      await assert.rejects(
        startMetricsServer(metrics.registry, first.address),
        (error: unknown) => error instanceof ListenError && error.code === 'ADDRESS_IN_USE',
      );
    } finally {
      await first.close();
    }
  });
});

describe('core metrics', () => {
  let core: RunningCore;
  let metrics: CoreMetrics;
  let server: MetricsServer;
  const notes = createMemoryNoteStore();
  before(async () => {
    metrics = createCoreMetrics({ noteStoreStats: () => notes.stats() });
    core = await startCore({ notes, onNoteStored: metrics.onNoteStored });
    server = await startMetricsServer(metrics.registry, { host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await server.close();
    await core.stop();
  });

  test('stored notes and the note store sizes', async () => {
    await routeChat(
      core.client,
      [
        { location: { latitude: 1, longitude: 1 }, message: 'héllo' },
        { location: { latitude: 2, longitude: 2 }, message: 'world' },
        { location: { latitude: 1, longitude: 1 }, message: 'again' },
      ],
      () => {},
    );
    const text = await scrape(server);
    assert.equal(sample(text, 'routeguide_core_notes_stored_total'), 3);
    assert.equal(sample(text, 'routeguide_core_note_store_notes'), 3);
    assert.equal(sample(text, 'routeguide_core_note_store_locations'), 2);
    assert.equal(sample(text, 'routeguide_core_note_store_bytes'), 6 + 5 + 5);
  });
});

describe('core RPC metrics (server interceptor)', () => {
  let grpcServer: grpc.Server;
  let client: RouteGuideClient;
  let metrics: CoreMetrics;
  before(async () => {
    metrics = createCoreMetrics({ defaultMetrics: false });
    grpcServer = new grpc.Server({ interceptors: [metrics.serverInterceptor] });
    const handlers = createRouteGuideHandlers({
      features: createFeatureIndex(loadFeatures(DEFAULT_FEATURE_DB)),
      notes: createMemoryNoteStore(),
    });
    grpcServer.addService(routeguide.RouteGuide.service, {
      ...handlers,
      // Echoes and never finishes on its own, so only the client's cancel can end it. (grpc-js
      // reports a client's RST_STREAM as a half-close first: the real handler would answer OK.)
      RouteChat: (call) => {
        if (call.metadata.get('x-finish').length > 0) return handlers.RouteChat(call);
        call.on('data', (note) => call.write(note));
        call.on('error', () => {});
      },
    } satisfies RouteGuideHandlers);
    const port = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    client = new routeguide.RouteGuide(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  });
  after(() => {
    client.close();
    grpcServer.forceShutdown();
  });

  const text = () => metrics.registry.metrics();

  test('RPCs started and finished by method and status; active streams', async () => {
    await getFeature(client, { latitude: 409146138, longitude: -746188906 });
    await assert.rejects(
      getFeature(client, { latitude: 1_000_000_000, longitude: 0 }),
      (error: grpc.ServiceError) => error.code === grpc.status.INVALID_ARGUMENT,
    );
    const finishing = new grpc.Metadata();
    finishing.set('x-finish', '1');
    await routeChat(client, [{ location: { latitude: 5, longitude: 5 }, message: 'x' }], () => {}, finishing);

    const call = client.RouteChat();
    call.on('error', () => {});
    call.write({ location: { latitude: 6, longitude: 6 }, message: 'y' });
    await new Promise((resolve) => call.once('data', resolve));
    assert.equal(
      sample(await text(), 'routeguide_core_active_streams', { method: ROUTE_CHAT_METHOD }),
      1,
      'the open RouteChat is active',
    );
    call.cancel();

    let finalText = '';
    for (let attempt = 0; attempt < 100; attempt += 1) {
      finalText = await text();
      if (sample(finalText, 'routeguide_core_active_streams', { method: ROUTE_CHAT_METHOD }) === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const value = (name: string, labels: Record<string, string>) =>
      sample(finalText, `routeguide_core_${name}`, labels);
    assert.equal(value('rpcs_started_total', { method: GET_FEATURE_METHOD }), 2);
    assert.equal(value('rpcs_finished_total', { method: GET_FEATURE_METHOD, code: 'OK' }), 1);
    assert.equal(value('rpcs_finished_total', { method: GET_FEATURE_METHOD, code: 'INVALID_ARGUMENT' }), 1);
    assert.equal(value('active_streams', { method: GET_FEATURE_METHOD }), 0);
    assert.equal(value('rpcs_started_total', { method: ROUTE_CHAT_METHOD }), 2);
    assert.equal(value('rpcs_finished_total', { method: ROUTE_CHAT_METHOD, code: 'OK' }), 1);
    assert.equal(value('rpcs_finished_total', { method: ROUTE_CHAT_METHOD, code: 'CANCELLED' }), 1);
    assert.equal(value('active_streams', { method: ROUTE_CHAT_METHOD }), 0);
  });
});
