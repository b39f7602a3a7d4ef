import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import {
  getFeature,
  listFeatures,
  recordRoute,
  routeChat,
  SEED_NOTES,
} from '../../clients/grpc/walkthrough.js';
import { SEED_REPLIES } from '../../clients/seed-notes.js';
import { haversineDistance } from '../../core-server/geo.js';
import type { Feature__Output, RouteNote, RouteNote__Output } from '../../proto/index.js';
import { REPO_ROOT, type RunningCore, startCore } from '../helpers/core.js';

const noop = () => {};
const summarize = (notes: readonly RouteNote__Output[]) =>
  notes.map((n) => `${n.location?.latitude},${n.location?.longitude}:${n.message}`);

/** The sequence the official RouteGuide servers send for the seed's six notes on a fresh server. */
const SEED_REPLY_LINES = SEED_REPLIES.map(
  (n) => `${n.location.latitude},${n.location.longitude}:${n.message}`,
);

const statusOf = (error: unknown) => (error as grpc.ServiceError).code;

describe('RouteGuide core server', () => {
  let core: RunningCore;
  before(async () => {
    core = await startCore();
  });
  after(() => core.stop());

  test('GetFeature returns the named feature at a known point', async () => {
    const feature = await getFeature(core.client, { latitude: 409146138, longitude: -746188906 });
    assert.equal(feature.name, 'Berkshire Valley Management Area Trail, Jefferson, NJ, USA');
    assert.deepEqual(feature.location, { latitude: 409146138, longitude: -746188906 });
  });

  test('GetFeature returns an unnamed feature at the point when nothing is there', async () => {
    const feature = await getFeature(core.client, { latitude: 0, longitude: 0 });
    assert.deepEqual(feature, { name: '', location: { latitude: 0, longitude: 0 } });
  });

  test('GetFeature answers an out-of-range point with INVALID_ARGUMENT', async () => {
    await assert.rejects(getFeature(core.client, { latitude: 910_000_000, longitude: 0 }), (e) => {
      assert.equal(statusOf(e), grpc.status.INVALID_ARGUMENT);
      assert.match((e as grpc.ServiceError).details, /out of range/);
      return true;
    });
  });

  test('ListFeatures streams every feature in the rectangle, corners in any order, bounds inclusive', async () => {
    const lo = { latitude: 400000000, longitude: -750000000 };
    const hi = { latitude: 420000000, longitude: -730000000 };
    const forward: Feature__Output[] = [];
    const reversed: Feature__Output[] = [];
    await listFeatures(core.client, lo, hi, (f) => forward.push(f));
    await listFeatures(core.client, hi, lo, (f) => reversed.push(f));
    assert.equal(forward.length, 100);
    assert.deepEqual(reversed, forward);
    const exact: Feature__Output[] = [];
    const corner = { latitude: 409146138, longitude: -746188906 };
    await listFeatures(core.client, corner, corner, (f) => exact.push(f));
    assert.deepEqual(
      exact.map((f) => f.name),
      ['Berkshire Valley Management Area Trail, Jefferson, NJ, USA'],
    );
  });

  test('ListFeatures answers an out-of-range corner with INVALID_ARGUMENT at once, not at the deadline', async () => {
    const started = Date.now();
    const call = core.client.ListFeatures(
      { lo: { latitude: 910_000_000, longitude: 0 }, hi: { latitude: 0, longitude: 0 } },
      { deadline: Date.now() + 5000 },
    );
    call.on('data', noop);
    const error = await new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
    assert.equal(statusOf(error), grpc.status.INVALID_ARGUMENT, error.details);
    assert.match(error.details, /out of range/);
    assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
  });

  test('RecordRoute counts points, named features passed and haversine distance', async () => {
    const summary = await recordRoute(core.client, [
      { latitude: 409146138, longitude: -746188906 },
      { latitude: 407838351, longitude: -746143763 },
      { latitude: 0, longitude: 0 },
    ]);
    assert.equal(summary.point_count, 3);
    assert.equal(summary.feature_count, 2);
    const expected =
      haversineDistance(
        { latitude: 409146138, longitude: -746188906 },
        { latitude: 407838351, longitude: -746143763 },
      ) + haversineDistance({ latitude: 407838351, longitude: -746143763 }, { latitude: 0, longitude: 0 });
    assert.equal(summary.distance, Math.round(expected));
    assert.equal(summary.elapsed_time, 0);
  });

  test('RecordRoute rejects an out-of-range point with INVALID_ARGUMENT', async () => {
    await assert.rejects(
      recordRoute(core.client, [
        { latitude: 1, longitude: 1 },
        { latitude: 1, longitude: 1_900_000_000 },
      ]),
      (e) => statusOf(e) === grpc.status.INVALID_ARGUMENT,
    );
  });

  test('RouteChat: the seed scenario gives exactly the official sequence', async () => {
    const fresh = await startCore();
    try {
      const received = await routeChat(fresh.client, SEED_NOTES, noop);
      assert.deepEqual(summarize(received), SEED_REPLY_LINES);
    } finally {
      await fresh.stop();
    }
  });

  test('RouteChat: concurrent streams share notes at a location and see one consistent order', async () => {
    const fresh = await startCore({ noteLimits: { maxNotesPerLocation: 1000 } });
    try {
      const location = { latitude: 5, longitude: 5 };
      const make = (who: string): RouteNote[] =>
        Array.from({ length: 50 }, (_, i) => ({ location, message: `${who}-${i}` }));
      const [a, b] = await Promise.all([
        routeChat(fresh.client, make('a'), noop),
        routeChat(fresh.client, make('b'), noop),
      ]);
      const history = await routeChat(fresh.client, [{ location, message: 'final' }], noop);
      const order = history.map((n) => n.message);
      assert.equal(order.length, 101);
      assert.ok(order.some((m) => m.startsWith('a-')) && order.some((m) => m.startsWith('b-')));
      // Each stream's replies are the shared history's prefixes, oldest first, in that order.
      for (const received of [a, b]) {
        let pos = 0;
        const messages = received.map((n) => n.message);
        while (pos < messages.length) {
          let len = 0;
          while (pos + len < messages.length && messages[pos + len] === order[len]) len += 1;
          assert.ok(
            len > 0,
            `a reply list does not start with the oldest note: ${messages.slice(pos, pos + 3)}`,
          );
          pos += len;
        }
        assert.ok(
          messages.some((m) => m.startsWith(received === a ? 'b-' : 'a-')),
          'each stream sees notes from the other one',
        );
      }
    } finally {
      await fresh.stop();
    }
  });

  test('the health service reports SERVING for the server and for routeguide.RouteGuide', async () => {
    const def = protoLoader.loadSync(healthProtoPath, { enums: String });
    const HealthClient = grpc.loadPackageDefinition(def).grpc as unknown as {
      health: { v1: { Health: typeof grpc.Client } };
    };
    const health = new HealthClient.health.v1.Health(
      core.address,
      grpc.credentials.createInsecure(),
    ) as grpc.Client & {
      Check(
        req: { service: string },
        cb: (e: grpc.ServiceError | null, r?: { status: string }) => void,
      ): void;
    };
    for (const service of ['', 'routeguide.RouteGuide']) {
      const reply = await new Promise<{ status: string } | undefined>((resolve, reject) =>
        health.Check({ service }, (e, r) => (e ? reject(e) : resolve(r))),
      );
      assert.equal(reply?.status, 'SERVING');
    }
    health.close();
  });

  test('server reflection lists routeguide.RouteGuide', async () => {
    const def = protoLoader.loadSync(
      `${REPO_ROOT}node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto`,
      { keepCase: true },
    );
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      grpc: { reflection: { v1: { ServerReflection: typeof grpc.Client } } };
    };
    const client = new pkg.grpc.reflection.v1.ServerReflection(
      core.address,
      grpc.credentials.createInsecure(),
    ) as grpc.Client & {
      ServerReflectionInfo(): grpc.ClientDuplexStream<
        object,
        { list_services_response?: { service: { name: string }[] } }
      >;
    };
    const call = client.ServerReflectionInfo();
    const reply = new Promise<string[]>((resolve, reject) => {
      call.on('data', (r) =>
        resolve(r.list_services_response?.service.map((s: { name: string }) => s.name) ?? []),
      );
      call.on('error', reject);
    });
    call.write({ list_services: '*' });
    call.end();
    assert.ok((await reply).includes('routeguide.RouteGuide'));
    client.close();
  });
});
