import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import {
  FrameRejectedError,
  GatewayClient,
  GatewayError,
  OutboxFullError,
  StatusCode,
  type WebSocketConstructor,
} from '../../clients/lib/index.js';
import { type RunningCore, type SpawnedProcess, spawnTs, startCore } from '../helpers/core.js';
import { freePort, type RunningGateway, startGateway, until } from '../helpers/gateway.js';
import { countingWebSocket, v2Url } from '../helpers/v2.js';

let core: RunningCore;
let gateway: RunningGateway;
before(async () => {
  core = await startCore();
  gateway = await startGateway(core.address);
});
after(async () => {
  await gateway.app.close();
  await core.stop();
});

describe('GatewayClient (protocol v2)', () => {
  test('unary, serverStream, clientStream and bidi over one socket, in proto3 JSON names', async () => {
    const client = new GatewayClient(v2Url(gateway.port), {
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    });
    const chat = client.bidi('routeguide.RouteGuide/RouteChat');
    const [feature, features, summary] = await Promise.all([
      client.unary('routeguide.RouteGuide/GetFeature', { latitude: 409146138, longitude: -746188906 }),
      (async () => {
        const out = [];
        for await (const f of client.serverStream('routeguide.RouteGuide/ListFeatures', {
          lo: { latitude: 400000000, longitude: -750000000 },
          hi: { latitude: 420000000, longitude: -730000000 },
        }))
          out.push(f);
        return out;
      })(),
      client.clientStream('routeguide.RouteGuide/RecordRoute', [
        { latitude: 409146138, longitude: -746188906 },
        { latitude: 410248224, longitude: -747127767 },
      ]),
    ]);
    assert.match(feature.name ?? '', /Berkshire/);
    assert.ok(features.length > 10);
    assert.equal(summary.pointCount, 2);
    chat.send({ location: { latitude: 3, longitude: 3 }, message: 'hello' });
    chat.end();
    assert.equal((await chat.status).name, 'OK');
    await assert.rejects(
      client.unary(
        'routeguide.RouteGuide/GetFeature',
        { latitude: 'x' as unknown as number },
        { timeoutMs: 5000 },
      ),
      (error: unknown) => error instanceof GatewayError,
    );
    client.close();
  });
});

const WS = WebSocket as unknown as WebSocketConstructor;
const GET_FEATURE = 'routeguide.RouteGuide/GetFeature';
const ROUTE_CHAT = 'routeguide.RouteGuide/RouteChat';
const BERKSHIRE = { latitude: 409146138, longitude: -746188906 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('GatewayClient: rejected frames reach the call (real gateway and core)', () => {
  test('a unary with an invalid request rejects at once with INVALID_ARGUMENT and the details, without a deadline', {
    timeout: 15_000,
  }, async () => {
    const client = new GatewayClient(v2Url(gateway.port), { WebSocket: WS });
    try {
      const error = await client
        .unary(GET_FEATURE, { latitude: 'north' as unknown as number, longitude: 1 })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(error instanceof FrameRejectedError, `got ${String(error)}`);
      assert.equal(error.code, StatusCode.INVALID_ARGUMENT);
      assert.equal(error.reason, 'invalid_message');
      assert.match(error.details[0]?.path ?? '', /^message\.latitude/);
      // The stream was cancelled cleanly: the same socket goes on serving.
      const feature = await client.unary(GET_FEATURE, BERKSHIRE);
      assert.match(feature.name, /Berkshire/);
    } finally {
      client.close();
    }
  });

  test('a clientStream with a rejected request rejects with that error instead of a partial result', {
    timeout: 15_000,
  }, async () => {
    const client = new GatewayClient(v2Url(gateway.port), { WebSocket: WS });
    try {
      await assert.rejects(
        client.clientStream('routeguide.RouteGuide/RecordRoute', [
          BERKSHIRE,
          { latitude: 1.5, longitude: 0 },
          BERKSHIRE,
        ]),
        (e: unknown) => e instanceof FrameRejectedError && e.code === StatusCode.INVALID_ARGUMENT,
      );
    } finally {
      client.close();
    }
  });

  test('a bidi call gets a rejected note as an error event and the stream goes on', async () => {
    const client = new GatewayClient(v2Url(gateway.port), { WebSocket: WS });
    try {
      const chat = client.bidi(ROUTE_CHAT);
      const errors: string[] = [];
      chat.on('error', (e) => errors.push(`${e.code} ${e.reason} ${e.details[0]?.path}`));
      chat.send({ location: { latitude: 'north' as unknown as number, longitude: 1 }, message: 'bad' });
      chat.send({ location: { latitude: 5, longitude: 987_654 }, message: 'good' });
      chat.end();
      const messages = [];
      for await (const note of chat.messages) messages.push(note.message);
      assert.equal((await chat.status).name, 'OK');
      assert.deepEqual(messages, ['good']);
      assert.deepEqual(errors, ['INVALID_ARGUMENT invalid_message message.location.latitude']);
    } finally {
      client.close();
    }
  });
});

describe('GatewayClient reconnects (real processes)', () => {
  test('core restart: calls in flight end UNAVAILABLE, an idempotent unary made while it is down succeeds once it is back, on the same socket', {
    timeout: 90_000,
  }, async () => {
    const corePort = await freePort();
    const spawnCoreOn = async () => {
      const proc = spawnTs('core-server/main.ts', [
        '--listen',
        `127.0.0.1:${corePort}`,
        '--metrics-listen',
        '127.0.0.1:0',
        '--shutdown-grace',
        '1s',
      ]);
      await proc.waitForLog('core server listening', 30_000);
      return proc;
    };
    let coreProc: SpawnedProcess | undefined = await spawnCoreOn();
    const gw = await startGateway(`127.0.0.1:${corePort}`);
    const client = new GatewayClient(v2Url(gw.port), {
      WebSocket: WS,
      reconnect: { retries: 200, initialDelayMs: 50, maxDelayMs: 300 },
    });
    const states: string[] = [];
    client.on('state', (s) => states.push(s.name));
    try {
      const chat = client.bidi(ROUTE_CHAT);
      chat.send({ location: { latitude: 6, longitude: 1 }, message: 'before' });
      const echoed = await chat.messages[Symbol.asyncIterator]().next();
      assert.equal(echoed.value?.message, 'before');
      await coreProc.stop('SIGTERM');
      coreProc = undefined;
      assert.equal((await chat.status).name, 'UNAVAILABLE');
      const feature = client.unary(GET_FEATURE, BERKSHIRE, { retry: 'idempotent', timeoutMs: 60_000 });
      await sleep(500);
      coreProc = await spawnCoreOn();
      assert.match((await feature).name, /Berkshire/);
      // The gateway never went away: one socket all along.
      assert.deepEqual(states, ['connecting', 'open']);
    } finally {
      client.close();
      await gw.app.close();
      await coreProc?.stop('SIGKILL');
    }
  });

  test('gateway restart (SIGTERM, then the same port): waiting calls reconnect with backoff, the token function runs per attempt', {
    timeout: 120_000,
  }, async () => {
    const core = await startCore();
    const port = await freePort();
    const spawnGatewayOn = async () => {
      const proc = spawnTs('gateway/main.ts', [
        '--listen',
        `127.0.0.1:${port}`,
        '--core',
        core.address,
        '--auth-tokens',
        't0k3n',
        '--shutdown-grace',
        '1s',
        '--log-level',
        'info',
      ]);
      await proc.waitForLog('gateway listening', 30_000);
      return proc;
    };
    let gwProc: SpawnedProcess | undefined = await spawnGatewayOn();
    let tokenCalls = 0;
    const client = new GatewayClient(v2Url(port), {
      WebSocket: WS,
      token: async () => {
        tokenCalls += 1;
        return 't0k3n';
      },
      reconnect: { retries: 200, initialDelayMs: 50, maxDelayMs: 300 },
    });
    const states: string[] = [];
    client.on('state', (s) => states.push(s.name));
    try {
      assert.match((await client.unary(GET_FEATURE, BERKSHIRE)).name, /Berkshire/);
      const chat = client.bidi(ROUTE_CHAT);
      await gwProc.stop('SIGTERM');
      gwProc = undefined;
      const ended = await chat.status;
      assert.ok(['OK', 'UNAVAILABLE'].includes(ended.name), `the open stream got a status: ${ended.name}`);
      await until(() => client.state.name === 'idle', 10_000, 'the socket to close');
      const feature = client.unary(GET_FEATURE, BERKSHIRE, { timeoutMs: 60_000 });
      await until(() => states.filter((s) => s === 'reconnecting').length >= 2, 20_000, 'two retries');
      gwProc = await spawnGatewayOn();
      assert.match((await feature).name, /Berkshire/);
      const connecting = states.filter((s) => s === 'connecting').length;
      assert.ok(connecting >= 3, `attempts: ${connecting}`);
      assert.equal(tokenCalls, connecting, 'one token per attempt');
    } finally {
      client.close();
      await gwProc?.stop('SIGKILL');
      await core.stop();
    }
  });

  test('aborting the signal stops everything: the waiting call ends CANCELLED and no socket is made after', async () => {
    const { WebSocket: counted, opened } = countingWebSocket();
    const controller = new AbortController();
    const client = new GatewayClient(`ws://127.0.0.1:${await freePort()}/v2`, {
      WebSocket: counted,
      signal: controller.signal,
      reconnect: { retries: 1000, initialDelayMs: 20, maxDelayMs: 50 },
    });
    const states: string[] = [];
    client.on('state', (s) => states.push(s.name));
    const feature = client.unary(GET_FEATURE, BERKSHIRE);
    await until(() => states.filter((s) => s === 'reconnecting').length >= 2, 10_000, 'two retries');
    controller.abort();
    await assert.rejects(
      feature,
      (e: unknown) => e instanceof GatewayError && e.code === StatusCode.CANCELLED,
    );
    const sockets = opened();
    await sleep(300);
    assert.equal(opened(), sockets, 'no attempt after the abort');
    assert.equal(client.state.name, 'closed');
  });

  test('the outbox is bounded: with the gateway unreachable, one call past the capacity throws OutboxFullError', async () => {
    const client = new GatewayClient(`ws://127.0.0.1:${await freePort()}/v2`, {
      WebSocket: WS,
      outboxCapacity: 2,
      reconnect: { retries: 1000, initialDelayMs: 20, maxDelayMs: 50 },
    });
    const waiting = [client.unary(GET_FEATURE, BERKSHIRE), client.unary(GET_FEATURE, BERKSHIRE)];
    await assert.rejects(
      client.unary(GET_FEATURE, BERKSHIRE),
      (e: unknown) => e instanceof OutboxFullError && e.code === StatusCode.RESOURCE_EXHAUSTED,
    );
    assert.throws(() => client.bidi(ROUTE_CHAT), OutboxFullError);
    client.close();
    for (const call of waiting) await assert.rejects(call, (e: unknown) => e instanceof GatewayError);
  });
});
