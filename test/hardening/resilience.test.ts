/**
 * Resilience of issue 5: churn leaves nothing behind, a graceful shutdown loses no accepted note,
 * and a stalled core stream holds back only its own client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { z } from 'zod';
import { buildGateway } from '../../gateway/app.js';
import { defaultGatewayConfig, type gatewayConfigSchema } from '../../gateway/config.js';
import type { V1Outcome } from '../../gateway/session/v1-connection.js';
import type { RouteNote__Output } from '../../proto/index.js';
import { CloseCode, ROUTECHAT_PATH, type ServerFrame } from '../../protocol/index.js';
import { type RunningCore, startCore } from '../helpers/core.js';
import {
  isError,
  isStatus,
  note,
  type RunningGateway,
  startFakeCore,
  startGateway,
  until,
} from '../helpers/gateway.js';
import { median, openClient, sleep } from '../helpers/hardening.js';

const MiB = 1024 * 1024;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

async function settledHeap(): Promise<number> {
  for (let i = 0; i < 4; i += 1) {
    gc();
    await sleep(50);
  }
  return process.memoryUsage().heapUsed;
}

const activeHandles = () =>
  (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;

describe('churn', () => {
  let core: RunningCore;
  let gateway: RunningGateway;
  before(async () => {
    // A small note store, so that what the core keeps does not hide what the gateway leaks.
    core = await startCore({ noteLimits: { maxTotalNotes: 500 } });
    gateway = await startGateway(core.address, { 'max-connections-per-ip': 200 });
  });
  after(async () => {
    await gateway.app.close();
    await core.stop();
  });

  /** One connection's life, ended four different ways. */
  const cycle = async (i: number) => {
    const client = openClient(gateway.wsUrl);
    await client.opened;
    const kind = i % 4;
    if (kind !== 3) client.send(note(1000 + (i % 1000), i, `churn ${i}`));
    if (kind === 0) {
      client.send({ type: 'end' });
      const closed = await client.closed;
      if (closed.code !== CloseCode.NORMAL)
        throw new Error(`cycle ${i}: closed ${closed.code}: ${JSON.stringify(client.frames.at(-1))}`);
      return;
    }
    if (kind === 2) client.ws.terminate();
    else client.ws.close();
    await client.closed;
  };

  const run = async (count: number, concurrency: number) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) await cycle(next++);
      }),
    );
  };

  const quiet = () =>
    until(
      () =>
        gateway.sessions.size === 0 &&
        gateway.upstream.stats().activeCalls === 0 &&
        gateway.app.websocketServer.clients.size === 0,
      10_000,
      'sessions, calls and WebSockets to reach 0',
    );

  test("clients that cancel fast don't get the shared core connection killed under the others (rapid-reset limit)", async (t) => {
    const bystander = openClient(gateway.wsUrl);
    await bystander.opened;
    bystander.send(note(999, 1, 'before'));
    await bystander.waitForFrames(0);
    // Each vanishing client is a cancelled call, an RST_STREAM towards the core: nghttp2 allows a
    // burst of 1000 then 33/s on one connection before it kills the connection with every stream on it.
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < 1500) {
          next += 1;
          const client = openClient(gateway.wsUrl);
          await client.opened;
          client.send(note(998, next, 'gone'));
          await sleep(1);
          client.ws.terminate();
          await client.closed;
        }
      }),
    );
    t.diagnostic(`after 1500 cancelled calls: ${JSON.stringify(gateway.upstream.stats())}`);
    assert.equal(
      bystander.ws.readyState,
      bystander.ws.OPEN,
      `the bystander survives: ${JSON.stringify(bystander.frames)}`,
    );
    bystander.send(note(999, 1, 'after'));
    await bystander.waitForFrames(1);
    bystander.send({ type: 'end' });
    assert.equal((await bystander.closed).code, CloseCode.NORMAL);
    await quiet();
  });

  test('10,000 connect/send/close cycles leave no session, call, WebSocket or handle behind; heap returns near its baseline', async (t) => {
    await run(500, 50);
    await quiet();
    await sleep(200);
    const heapBefore = await settledHeap();
    const handlesBefore = activeHandles();
    const serverListeners = () =>
      ['upgrade', 'connection', 'request'].map((event) => gateway.app.server.listenerCount(event));
    const listenersBefore = serverListeners();

    const started = performance.now();
    await run(10_000, 50);
    const elapsed = performance.now() - started;
    await quiet();
    await sleep(500);
    const heapAfter = await settledHeap();
    const handlesAfter = activeHandles();
    t.diagnostic(
      `10,000 cycles in ${(elapsed / 1000).toFixed(1)} s (${((10_000 / elapsed) * 1000).toFixed(0)}/s); ` +
        `heap ${(heapBefore / MiB).toFixed(1)} → ${(heapAfter / MiB).toFixed(1)} MiB ` +
        `(${heapAfter >= heapBefore ? '+' : ''}${((heapAfter - heapBefore) / MiB).toFixed(2)} MiB); ` +
        `active handles ${handlesBefore} → ${handlesAfter}; channels ${gateway.upstream.stats().channels}`,
    );
    assert.equal(gateway.sessions.size, 0);
    assert.equal(gateway.upstream.stats().activeCalls, 0);
    assert.equal(gateway.app.websocketServer.clients.size, 0);
    assert.ok(handlesAfter <= handlesBefore + 5, `handles ${handlesBefore} → ${handlesAfter}`);
    assert.ok(
      heapAfter < heapBefore + 20 * MiB,
      `heap ${(heapBefore / MiB).toFixed(1)} → ${(heapAfter / MiB).toFixed(1)} MiB`,
    );
    // Listeners on the server side: Fastify's server and the upgrade path are back to what they were.
    assert.deepEqual(serverListeners(), listenersBefore, 'upgrade, connection and request listeners');
    const health = (await (await fetch(`${gateway.httpUrl}/healthz`)).json()) as { connections: number };
    assert.equal(health.connections, 0);
  });
});

describe('nothing lost across a graceful shutdown', () => {
  test('every accepted note reaches the core in order; every other one got an after_end error frame or was never read', async (t) => {
    const core = await startFakeCore((call) => {
      call.on('end', () => call.end());
    });
    let forwarded = 0;
    const rejected: string[] = [];
    const outcomes: V1Outcome[] = [];
    const config = defaultGatewayConfig({
      core: core.address,
      'log-level': 'silent',
      'shutdown-grace': '2s',
      'rate-limit': 0,
    } as Partial<z.input<typeof gatewayConfigSchema>>);
    const gateway = await buildGateway(config, {
      observer: {
        forwarded: () => {
          forwarded += 1;
        },
        rejected: (reason) => rejected.push(reason),
        finished: (outcome) => outcomes.push(outcome),
      },
    });
    await gateway.app.listen({ host: '127.0.0.1', port: 0 });
    const address = gateway.app.server.address();
    const url = `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}${ROUTECHAT_PATH}`;
    const clients = 20;
    const perClient = 300;
    try {
      const sockets = Array.from({ length: clients }, (_, i) =>
        openClient(url, { headers: { 'x-request-id': `lost-${i}` } }),
      );
      await Promise.all(sockets.map((c) => c.opened));
      const sent = sockets.map(() => 0);
      let closing: Promise<void> | undefined;
      let sentAtShutdown = 0;
      const total = () => sent.reduce((a, b) => a + b, 0);
      await Promise.all(
        sockets.map(async (client, i) => {
          for (let seq = 0; seq < perClient && client.ws.readyState === client.ws.OPEN; seq += 1) {
            client.send(note(2000 + i, seq, `n${seq}`));
            sent[i] = seq + 1;
            if (!closing && total() >= (clients * perClient) / 2) {
              sentAtShutdown = total();
              closing = gateway.app.close();
            }
            if (seq % 5 === 4) await sleep(2);
          }
        }),
      );
      const closes = await Promise.all(sockets.map((c) => c.closed));
      await closing;

      let received = 0;
      let errors = 0;
      for (const [i, client] of sockets.entries()) {
        const call = core.calls.find((c) => c.metadata['x-request-id'] === `lost-${i}`);
        assert.ok(call, `client ${i} has a call at the core`);
        const messages = call.received.map((n: RouteNote__Output) => n.message);
        assert.deepEqual(
          messages,
          Array.from({ length: messages.length }, (_, k) => `n${k}`),
          `client ${i}: the core got a gap-free prefix, in order`,
        );
        assert.ok(
          call.received.every((n) => n.location?.latitude === 2000 + i),
          `client ${i}: only its own notes`,
        );
        const errorFrames = client.frames.filter(isError);
        assert.ok(
          errorFrames.every((e) => e.reason === 'after_end'),
          `client ${i}: only after_end rejections`,
        );
        const frames: ServerFrame[] = client.frames;
        assert.ok(isStatus(frames.at(-1)), `client ${i}: the status is the last frame`);
        assert.equal(closes[i]?.code, CloseCode.GOING_AWAY, `client ${i}: close 1001`);
        assert.ok(
          messages.length + errorFrames.length <= (sent[i] as number),
          `client ${i}: nothing counted twice`,
        );
        received += messages.length;
        errors += errorFrames.length;
      }
      const framesRead = outcomes.reduce((sum, o) => sum + o.framesIn, 0);
      const neverRead = total() - framesRead;
      t.diagnostic(
        `sent ${total()} notes (${sentAtShutdown} when the shutdown began); accepted and received by the core ` +
          `${received}; answered after_end ${errors}; never read ${neverRead}`,
      );
      assert.ok(sentAtShutdown < clients * perClient, 'the shutdown began while clients were sending');
      assert.equal(forwarded, received, 'every note the gateway accepted reached the core');
      assert.equal(rejected.length, errors, 'every rejection was answered with an error frame');
      assert.equal(framesRead, received + errors, 'every note read was either relayed or answered');
      assert.equal(received + errors + neverRead, total(), 'the accounting adds up');
      assert.ok(received > 0 && received < total(), 'some notes were accepted, some were not');
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });
});

describe('a stalled core stream', () => {
  test("backs up only its own client: the stalled client's sends pile up, another client's replies keep flowing", async (t) => {
    const core = await startFakeCore((call) => {
      if (call.metadata.get('x-request-id')[0] === 'stalled') {
        // Never read: HTTP/2 flow control pushes back on the gateway.
        call.pause();
        return;
      }
      call.on('data', (n: RouteNote__Output) => call.write(n));
      call.on('end', () => call.end());
    });
    const gateway = await startGateway(core.address, { 'rate-limit': 0, 'shutdown-grace': '1s' });
    let closed = false;
    try {
      const stalled = openClient(gateway.wsUrl, { headers: { 'x-request-id': 'stalled' } });
      const lively = openClient(gateway.wsUrl);
      await Promise.all([stalled.opened, lively.opened]);
      const payload = 'p'.repeat(10_000);
      const count = 3000;
      for (let i = 0; i < count; i += 1) stalled.send(note(3000, i, `${i} ${payload}`));

      const latencies: number[] = [];
      for (let i = 0; i < 30; i += 1) {
        const sentAt = performance.now();
        lively.send(note(3001, i, `lively ${i}`));
        await lively.waitForFrames(i + 1, 3000);
        latencies.push((lively.times[i] as number) - sentAt);
        await sleep(30);
      }
      const stalledCall = core.calls.find((c) => c.metadata['x-request-id'] === 'stalled');
      const reachedCore = stalledCall?.received.length ?? 0;
      const backlog = stalled.ws.bufferedAmount;
      await sleep(300);
      t.diagnostic(
        `stalled client: ${count} notes of ~10 KB sent, ${reachedCore} reached the core, ` +
          `${(backlog / MiB).toFixed(1)} MiB still queued at the client; lively client latency median ` +
          `${median(latencies).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`,
      );
      assert.ok(
        backlog > 5 * MiB,
        `the stalled client's sends back up (${(backlog / MiB).toFixed(1)} MiB queued)`,
      );
      assert.ok(reachedCore < count / 10, `the core read ${reachedCore} notes`);
      assert.equal(stalled.ws.readyState, stalled.ws.OPEN, 'the stalled stream is not dropped');
      assert.equal(stalled.frames.length, 0);
      assert.equal(lively.frames.length, 30, 'the lively client got every reply');
      assert.ok(
        Math.max(...latencies) < 1000,
        `lively replies stay prompt (max ${Math.max(...latencies).toFixed(0)} ms)`,
      );
      lively.send({ type: 'end' });
      assert.equal((await lively.closed).code, CloseCode.NORMAL);
      // The gateway is not reading this socket, so it cannot see the client leave; shutdown still
      // ends the stalled call within its grace period.
      stalled.ws.terminate();
      const started = performance.now();
      await gateway.app.close();
      closed = true;
      assert.ok(performance.now() - started < 3000, 'the shutdown is not held by the stalled stream');
      await until(() => stalledCall?.cancelled === true, 3000, 'the stalled call cancelled at the core');
    } finally {
      if (!closed) await gateway.app.close();
      await core.stop();
    }
  });
});
