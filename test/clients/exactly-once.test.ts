/**
 * `delivery: 'exactly-once'` through real processes: a core on a real redis-server, the gateway,
 * and a TCP relay between the library and the gateway that withholds the gateway's replies, waits
 * until the core has stored the notes, then cuts the connection. Those notes' fates are unknown to
 * the client; it reconnects, reopens with its producer id and the sequence of its first unconfirmed
 * note, and resends. With exactly-once each note is stored once and ends confirmed; the same cut
 * under at-least-once stores notes twice (the control that shows the cut makes resends).
 */
import assert from 'node:assert/strict';
import { createServer, type Server, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import {
  GatewayClient,
  type NoteFate,
  type ReconnectOptions,
  RouteChatSocket,
  routeChatOverV2,
} from '../../clients/lib/index.js';
import type { ErrorFrameV2 } from '../../protocol/v2/index.js';
import { type SpawnedProcess, spawnCore } from '../helpers/core.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { noteCounters } from '../helpers/prometheus.js';
import { type RedisServer, removeDir, startRedis } from '../helpers/redis.js';

const BOUNDED = { timeout: 30_000 };
const RECONNECT = { retries: 20, initialDelayMs: 50, maxDelayMs: 200 } satisfies ReconnectOptions;

let redis: RedisServer;
let core: SpawnedProcess & { address: string; metricsUrl: string };
let gateway: RunningGateway;

before(async () => {
  redis = await startRedis();
  core = await spawnCore(['--note-store', redis.url, '--redis-key-prefix', 'client-once:']);
  gateway = await startGateway(core.address);
});
after(async () => {
  await gateway?.app.close();
  await core?.stop('SIGKILL');
  await redis?.stop('SIGKILL');
  if (redis) removeDir(redis);
});

const coreCounters = () => noteCounters(core.metricsUrl);

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A TCP relay to the gateway whose replies can be held back, and whose connections can be cut. */
interface Relay {
  readonly port: number;
  holdReplies(): void;
  /** Cuts every connection (the client sees 1006) and lets later ones through untouched. */
  cut(): void;
  close(): Promise<void>;
}

async function startRelay(target: number): Promise<Relay> {
  const pairs: [Socket, Socket][] = [];
  let holding = false;
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    upstream.connect(target, '127.0.0.1');
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (!holding) client.write(chunk);
    });
    upstream.on('end', () => client.end());
    pairs.push([client, upstream]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    holdReplies() {
      holding = true;
    },
    cut() {
      for (const [client, upstream] of pairs.splice(0)) {
        client.destroy();
        upstream.destroy();
      }
      holding = false;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const gatewayPort = () => {
  const address = gateway.app.server.address();
  return typeof address === 'object' && address ? address.port : 0;
};

/** Sends `count` distinct notes, cuts the stream once `cutAfter` are stored, and waits for every fate. */
async function cutRun(
  socket: RouteChatSocket<ErrorFrameV2> | RouteChatSocket,
  relay: Relay,
  tag: string,
  count: number,
): Promise<{ fates: NoteFate<ErrorFrameV2>[]; stored: number; deduplicated: number }> {
  const before = await coreCounters();
  await new Promise<void>((resolve) => {
    if (socket.state.name === 'open') resolve();
    else socket.on('state', (state) => state.name === 'open' && resolve());
  });
  relay.holdReplies();
  const fates = Array.from({ length: count }, (_, i) =>
    socket.send({ location: { latitude: 400_000_000 + i, longitude: -740_000_000 }, message: `${tag} ${i}` }),
  ) as Promise<NoteFate<ErrorFrameV2>>[];
  // The first notes are stored while their replies wait in the relay: then the connection goes.
  await eventually(async () => (await coreCounters()).stored >= before.stored + 1, 'the first note stored');
  relay.cut();
  const settled = await Promise.all(fates);
  socket.end();
  await socket.closed;
  const afterCounts = await coreCounters();
  return {
    fates: settled,
    stored: afterCounts.stored - before.stored,
    deduplicated: afterCounts.deduplicated - before.deduplicated,
  };
}

describe('RouteChatSocket delivery: exactly-once (real core on Redis, gateway, a cut connection)', () => {
  test(
    'over v1: a note whose replies were lost is resent under its sequence and stored once; every fate confirmed',
    BOUNDED,
    async () => {
      const relay = await startRelay(gatewayPort());
      try {
        const socket = new RouteChatSocket({
          url: `ws://127.0.0.1:${relay.port}/v1/routechat`,
          WebSocket,
          reconnect: RECONNECT,
          settleMs: 0,
          delivery: 'exactly-once',
        });
        const run = await cutRun(socket, relay, 'v1 once', 3);
        assert.deepEqual(
          run.fates.map((fate) => fate.fate),
          ['confirmed', 'confirmed', 'confirmed'],
        );
        assert.equal(run.stored, 3, 'each note stored once');
        assert.ok(
          run.deduplicated >= 1,
          `a resend reached the core and was recognised (${run.deduplicated})`,
        );
      } finally {
        await relay.close();
      }
    },
  );

  test('over v2 (a shared GatewayClient): the same, the session in open.metadata', BOUNDED, async () => {
    const relay = await startRelay(gatewayPort());
    const client = new GatewayClient({
      url: `ws://127.0.0.1:${relay.port}/v2`,
      WebSocket,
      reconnect: RECONNECT,
    });
    try {
      const socket = new RouteChatSocket({
        transport: routeChatOverV2(client),
        reconnect: RECONNECT,
        settleMs: 0,
        delivery: 'exactly-once',
      });
      const run = await cutRun(socket, relay, 'v2 once', 3);
      assert.deepEqual(
        run.fates.map((fate) => fate.fate),
        ['confirmed', 'confirmed', 'confirmed'],
      );
      assert.equal(run.stored, 3, 'each note stored once');
      assert.ok(run.deduplicated >= 1, `a resend reached the core and was recognised (${run.deduplicated})`);
    } finally {
      client.close();
      await relay.close();
    }
  });

  test('the control: the same cut under at-least-once stores a note twice', BOUNDED, async () => {
    const relay = await startRelay(gatewayPort());
    try {
      const socket = new RouteChatSocket({
        url: `ws://127.0.0.1:${relay.port}/v1/routechat`,
        WebSocket,
        reconnect: RECONNECT,
        settleMs: 0,
        delivery: 'at-least-once',
      });
      const run = await cutRun(socket, relay, 'v1 least', 3);
      assert.ok(run.stored > 3, `stored ${run.stored} times for 3 notes`);
    } finally {
      await relay.close();
    }
  });

  test('sendRaw is refused under exactly-once; a malformed producerId is refused at once', () => {
    assert.throws(
      () =>
        new RouteChatSocket({
          url: 'ws://127.0.0.1:1/v1/routechat',
          WebSocket,
          delivery: 'exactly-once',
          producerId: 'short',
        }),
      /producerId/,
    );
    const socket = new RouteChatSocket({
      url: `ws://127.0.0.1:${gatewayPort()}/v1/routechat`,
      WebSocket,
      delivery: 'exactly-once',
    });
    assert.throws(() => socket.sendRaw('{}'), /exactly-once/);
    socket.close();
  });
});
