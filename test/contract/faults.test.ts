/** Faults with real processes and sockets: a core that is down, dies, stalls; clients that vanish; shutdown. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type * as grpc from '@grpc/grpc-js';
import type { RouteNote, RouteNote__Output } from '../../proto/index.js';
import { CloseCode, type StatusFrame } from '../../protocol/index.js';
import { spawnCore, spawnTs, startCore } from '../helpers/core.js';
import {
  connect,
  freePort,
  note,
  refusedStatus,
  startFakeCore,
  startGateway,
  until,
} from '../helpers/gateway.js';

const lastStatus = (frames: unknown[]) => frames.at(-1) as StatusFrame;

describe('faults', () => {
  test('core down at connect: a fast UNAVAILABLE status and close 4014, then recovery once it is up', async () => {
    const port = await freePort();
    const gateway = await startGateway(`127.0.0.1:${port}`);
    try {
      const started = Date.now();
      const client = connect(gateway.wsUrl);
      const closed = await client.closed;
      assert.ok(Date.now() - started < 3000, 'fails fast');
      assert.equal(lastStatus(client.frames).name, 'UNAVAILABLE');
      assert.deepEqual(closed, { code: 4014, reason: 'UNAVAILABLE' });

      const core = await startCore({ port });
      try {
        let recovered = false;
        for (let attempt = 0; attempt < 50 && !recovered; attempt += 1) {
          const retry = connect(gateway.wsUrl);
          await retry.opened;
          retry.send(note(1, 1, 'back'));
          retry.send({ type: 'end' });
          const result = await retry.closed;
          recovered = result.code === CloseCode.NORMAL;
          if (!recovered) await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(
          recovered,
          'a new connection succeeds once the core is back, without restarting the gateway',
        );
      } finally {
        await core.stop();
      }
    } finally {
      await gateway.app.close();
    }
  });

  test('core dying mid-stream: the open stream gets UNAVAILABLE and close 4014', async () => {
    const core = await spawnCore();
    const gateway = await startGateway(core.address);
    try {
      const client = connect(gateway.wsUrl);
      await client.opened;
      client.send(note(1, 1, 'before the crash'));
      await client.waitForFrames(1);
      core.child.kill('SIGKILL');
      const closed = await client.closed;
      assert.equal(lastStatus(client.frames).type, 'status');
      assert.equal(lastStatus(client.frames).name, 'UNAVAILABLE');
      assert.deepEqual(closed, { code: 4014, reason: 'UNAVAILABLE' });
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });

  test('a client that vanishes (TCP reset) gets its call cancelled at the core', async () => {
    const core = await startFakeCore((call) => call.on('data', (n) => call.write(n)));
    const gateway = await startGateway(core.address);
    try {
      const client = connect(gateway.wsUrl);
      await client.opened;
      client.send(note(1, 1, 'hello'));
      await client.waitForFrames(1);
      client.ws.terminate();
      await until(() => core.calls[0]?.cancelled === true, 3000, 'the core to see CANCELLED');
      await until(() => gateway.upstream.stats().activeCalls === 0, 3000, 'no call outliving its socket');
      assert.equal(gateway.sessions.size, 0);
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });

  test('a peer that misses a pong is terminated by the heartbeat and its call cancelled', async () => {
    const core = await startFakeCore((call) => call.on('data', (n) => call.write(n)));
    const gateway = await startGateway(core.address, { 'heartbeat-interval': '100ms' });
    try {
      const silent = connect(gateway.wsUrl, { autoPong: false });
      const healthy = connect(gateway.wsUrl);
      await Promise.all([silent.opened, healthy.opened]);
      silent.send(note(1, 1, 'a'));
      healthy.send(note(1, 2, 'b'));
      await Promise.all([silent.waitForFrames(1), healthy.waitForFrames(1)]);
      const closed = await silent.closed;
      assert.equal(closed.code, 1006, 'terminated without a close handshake');
      await until(() => core.calls.some((c) => c.cancelled), 3000, 'the silent call to be cancelled');
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(healthy.ws.readyState, healthy.ws.OPEN, 'a peer that answers pings stays');
      healthy.ws.close();
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });

  test('a client that stops reading while the core sends a lot: the core is held back, gateway memory stays bounded', async () => {
    const payload = 'x'.repeat(16 * 1024);
    let written = 0;
    const core = await startFakeCore((call) => {
      const pump = () => {
        while (!call.cancelled && written < 20_000) {
          written += 1;
          if (
            !call.write({ location: { latitude: 1, longitude: 1 }, message: payload } satisfies RouteNote)
          ) {
            call.once('drain', pump);
            return;
          }
        }
      };
      call.once('data', pump);
    });
    const gateway = await startGateway(core.address, { 'socket-high-water-mark': '256KiB' });
    try {
      const client = connect(gateway.wsUrl);
      await client.opened;
      // Stop reading from the TCP socket: the gateway's writes to it back up.
      (client.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      client.send(note(1, 1, 'go'));
      await new Promise((r) => setTimeout(r, 1500));
      const stalledAt = written;
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(written, stalledAt, 'the core stalls instead of the gateway buffering everything');
      const bytesInFlight = stalledAt * payload.length;
      // 20,000 notes would be 320 MiB; what left the core is bounded by the high-water mark plus
      // HTTP/2 and TCP windows, a few MiB.
      assert.ok(bytesInFlight < 16 * 1024 * 1024, `the core got ${bytesInFlight} bytes out`);
      // The documented output bound: queued for this client, at most the mark plus the frame that
      // crossed it (the rest waits in the kernel's socket buffers and in the core).
      const { largest } = gateway.sessions.backlog();
      const frame = JSON.stringify(note(1, 1, payload)).length;
      assert.ok(largest > 0, 'something is queued for the stalled client');
      assert.ok(largest <= 256 * 1024 + frame, `${largest} bytes queued for one client`);
      client.ws.terminate();
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });

  test('the heartbeat does not drop a live client whose socket the gateway itself stopped reading', async () => {
    // The core never reads this stream: the call's buffer fills, the gateway stops reading the
    // socket, and the client's pongs wait in it. That client is alive and must not be judged dead.
    const core = await startFakeCore((call) => call.pause());
    const gateway = await startGateway(core.address, { 'heartbeat-interval': '100ms', 'rate-limit': 0 });
    try {
      const client = connect(gateway.wsUrl);
      await client.opened;
      const payload = 'p'.repeat(16 * 1024);
      for (let i = 0; i < 2000; i += 1) client.send(note(5, i, payload));
      await until(
        () => gateway.sessions.size === 1 && client.ws.bufferedAmount > 1024 * 1024,
        5000,
        'the gateway to stop reading',
      );
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(client.ws.readyState, client.ws.OPEN, 'still connected after 8 heartbeat periods');
      client.ws.terminate();
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });

  test('more streams than the core allows per connection open on further channels, none hangs', async () => {
    const core = await startFakeCore(
      (call) => {
        call.on('data', (n: RouteNote__Output) => call.write(n));
        call.on('end', () => call.end());
      },
      { 'grpc.max_concurrent_streams': 3 } as grpc.ServerOptions,
    );
    const gateway = await startGateway(core.address, { 'max-streams-per-channel': 3 });
    try {
      const clients = Array.from({ length: 10 }, () => connect(gateway.wsUrl));
      await Promise.all(clients.map((c) => c.opened));
      for (const [i, c] of clients.entries()) c.send(note(2, i, `stream ${i}`));
      await Promise.all(clients.map((c) => c.waitForFrames(1, 3000)));
      assert.equal(gateway.upstream.stats().channels, 4);
      for (const c of clients) c.send({ type: 'end' });
      const closes = await Promise.all(clients.map((c) => c.closed));
      assert.ok(closes.every((c) => c.code === CloseCode.NORMAL));
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });

  test('graceful shutdown: open streams are half-closed, get their status and close 1001', async () => {
    const core = await startCore();
    const gateway = await startGateway(core.address, { 'shutdown-grace': '2s' });
    try {
      const client = connect(gateway.wsUrl);
      await client.opened;
      client.send(note(3, 3, 'before shutdown'));
      await client.waitForFrames(1);
      const closing = gateway.app.close();
      const closed = await client.closed;
      await closing;
      assert.equal(closed.code, CloseCode.GOING_AWAY);
      assert.deepEqual(lastStatus(client.frames), {
        type: 'status',
        code: 0,
        name: 'OK',
        message: '',
        metadata: {},
      });
    } finally {
      await core.stop();
    }
  });

  test('graceful shutdown: a stream the core does not finish gets UNAVAILABLE and 1001 at the deadline', async () => {
    const core = await startFakeCore((call) => call.on('data', (n) => call.write(n)));
    const gateway = await startGateway(core.address, { 'shutdown-grace': '300ms' });
    try {
      const client = connect(gateway.wsUrl);
      await client.opened;
      client.send(note(3, 3, 'x'));
      await client.waitForFrames(1);
      const started = Date.now();
      const closing = gateway.app.close();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(await refusedStatus(gateway.wsUrl), 503, 'new upgrades are refused while draining');
      await closing;
      const closed = await client.closed;
      assert.ok(Date.now() - started < 2000);
      assert.equal(closed.code, CloseCode.GOING_AWAY);
      assert.equal(lastStatus(client.frames).name, 'UNAVAILABLE');
      await until(() => core.calls[0]?.cancelled === true, 2000, 'the core to see the call cancelled');
    } finally {
      await core.stop();
    }
  });

  test('SIGTERM on the gateway process: status + 1001 to live sockets, exit 0', async () => {
    const core = await spawnCore();
    const gateway = spawnTs('gateway/main.ts', [
      '--listen',
      '127.0.0.1:0',
      '--core',
      core.address,
      '--shutdown-grace',
      '3s',
    ]);
    try {
      const line = await gateway.waitForLog('gateway listening');
      const client = connect(`ws://${String(line.address)}/v1/routechat`);
      await client.opened;
      client.send(note(4, 4, 'x'));
      await client.waitForFrames(1);
      gateway.child.kill('SIGTERM');
      const closed = await client.closed;
      assert.equal(closed.code, CloseCode.GOING_AWAY);
      assert.equal(lastStatus(client.frames).type, 'status');
      assert.equal((await gateway.exited).code, 0);
    } finally {
      await gateway.stop('SIGKILL');
      await core.stop();
    }
  });
});
