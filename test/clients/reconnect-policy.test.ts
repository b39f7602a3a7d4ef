/**
 * The reconnect policy against real sockets that fail at once: a proxy answering every upgrade 503
 * (HAProxy while every gateway is unready) and a gateway with no core (each stream ends UNAVAILABLE
 * within milliseconds). A finite `retries` gives up only after its horizon (retryHorizonMs: half
 * of every delay's cap is fixed), not as fast as the attempts fail; `retries: Infinity` keeps
 * trying with delays under the cap and connects once a gateway answers. The dice are loaded low
 * (`random: () => 0`): the shortest the policy allows.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { after, test } from 'node:test';
import WebSocket from 'ws';
import { RECONNECT as CLI_RECONNECT } from '../../clients/cli/config.js';
import {
  GatewayClient,
  type ReconnectOptions,
  RouteChatSocket,
  retryHorizonMs,
  StatusCode,
} from '../../clients/lib/index.js';
import { ROUTECHAT_PATH } from '../../protocol/index.js';
import { type RunningCore, startCore } from '../helpers/core.js';
import { freePort, type RunningGateway, startGateway } from '../helpers/gateway.js';

const BOUNDED = { timeout: 30_000 };
/** 50 + 100 + 200 + 400 + 500 + 500 ms: 1.75 s, where six attempts failing at once take a few ms each. */
const SIX: ReconnectOptions = { retries: 6, initialDelayMs: 100, maxDelayMs: 1000 };
const SIX_HORIZON_MS = 1750;
const lowest = () => 0;

const cleanups: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Answers every request, upgrades included, with 503 and no Retry-After: HAProxy with no server up. */
async function startRefusingProxy(
  port = 0,
): Promise<{ port: number; upgrades: () => number; close(): Promise<void> }> {
  let upgrades = 0;
  const server: Server = createServer((_request, response) => {
    response.writeHead(503).end();
  });
  server.on('upgrade', (_request, socket) => {
    upgrades += 1;
    socket.on('error', () => {});
    socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    upgrades: () => upgrades,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

test(
  'a gateway with no core: a RouteChatSocket spends its retries over their horizon, not as fast as streams fail',
  BOUNDED,
  async () => {
    const gateway = await startGateway(`127.0.0.1:${await freePort()}`);
    cleanups.push(() => gateway.app.close());
    const socket = new RouteChatSocket({ url: gateway.wsUrl, WebSocket, reconnect: SIX, random: lowest });
    socket.on('error', () => {});
    const attempts: number[] = [];
    socket.on('state', (state) => {
      if (state.name === 'reconnecting') attempts.push(state.attempt);
    });
    const started = Date.now();
    const status = await socket.status;
    const elapsed = Date.now() - started;
    assert.equal(status.code, StatusCode.UNAVAILABLE);
    assert.deepEqual(attempts, [1, 2, 3, 4, 5, 6]);
    assert.ok(
      elapsed >= SIX_HORIZON_MS,
      `gave up after ${elapsed} ms, within its ${SIX_HORIZON_MS} ms horizon`,
    );
  },
);

test(
  'a proxy answering 503 at once: a GatewayClient keeps the call waiting for the retries horizon, then fails it',
  BOUNDED,
  async () => {
    const proxy = await startRefusingProxy();
    cleanups.push(() => proxy.close());
    const client = new GatewayClient({
      url: `ws://127.0.0.1:${proxy.port}/v2`,
      WebSocket,
      reconnect: SIX,
      random: lowest,
    });
    const started = Date.now();
    await assert.rejects(
      client.unary('routeguide.RouteGuide/GetFeature', { latitude: 1, longitude: 2 }),
      (error: { code?: number }) => error.code === StatusCode.UNAVAILABLE,
    );
    const elapsed = Date.now() - started;
    assert.equal(proxy.upgrades(), 7, 'the first attempt and six retries');
    assert.ok(
      elapsed >= SIX_HORIZON_MS,
      `gave up after ${elapsed} ms, within its ${SIX_HORIZON_MS} ms horizon`,
    );
    client.close();
  },
);

test(
  'retries: Infinity outlasts any count of 503s with capped delays, and delivers once a gateway answers',
  BOUNDED,
  async () => {
    const proxy = await startRefusingProxy();
    const port = proxy.port;
    const socket = new RouteChatSocket({
      url: `ws://127.0.0.1:${port}${ROUTECHAT_PATH}`,
      WebSocket,
      reconnect: { retries: Number.POSITIVE_INFINITY, initialDelayMs: 5, maxDelayMs: 40 },
    });
    socket.on('error', () => {});
    const delays: number[] = [];
    socket.on('state', (state) => {
      if (state.name === 'reconnecting') delays.push(state.delayMs);
    });
    const fate = socket.send({ location: { latitude: 7, longitude: 8 }, message: 'after the outage' });
    // Far past the 20 failures in a row of the CLI's --reconnect.
    while (proxy.upgrades() < 40) await new Promise((resolve) => setTimeout(resolve, 20));
    await proxy.close();
    const core: RunningCore = await startCore();
    const gateway: RunningGateway = await startGateway(core.address, {}, port);
    cleanups.push(
      () => core.stop(),
      () => gateway.app.close(),
    );
    assert.equal((await fate).fate, 'confirmed');
    assert.equal(socket.state.name, 'open');
    assert.ok(delays.length >= 40, `${delays.length} retries`);
    assert.ok(
      delays.every((delay) => delay <= 40),
      `every delay under the cap: ${Math.max(...delays)} ms`,
    );
    socket.close();
  },
);

test("the CLI's --reconnect rides out a minute of outage however fast its attempts fail", () => {
  assert.ok(retryHorizonMs(CLI_RECONNECT) > 60_000, `${retryHorizonMs(CLI_RECONNECT)} ms`);
});
