/**
 * Replays of the known attacks on WebSocket servers against the gateway as a real process: many
 * headers, pathological subprotocol headers, a flood of tiny fragments, slowloris, half-open sockets.
 * Each time: the attacker is refused or cut off, memory stays bounded, the process survives and
 * others keep being served.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { CloseCode } from '../../protocol/index.js';
import { type RunningCore, startCore } from '../helpers/core.js';
import {
  clientFrame,
  closedWithin,
  isAlive,
  openClient,
  rawRequest,
  roundTrip,
  rssBytes,
  type SpawnedGateway,
  sleep,
  spawnGateway,
  upgradeHead,
} from '../helpers/hardening.js';

const MiB = 1024 * 1024;

async function openRaw(address: string): Promise<Socket> {
  const [host, port] = address.split(':');
  const socket = netConnect({ host: host as string, port: Number(port) });
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** The first Close frame the server sent on `socket` (server frames are unmasked), or undefined. */
function serverCloseCode(bytes: Buffer): number | undefined {
  let offset = 0;
  while (offset + 2 <= bytes.length) {
    const opcode = (bytes[offset] as number) & 0x0f;
    let length = (bytes[offset + 1] as number) & 0x7f;
    let header = 2;
    if (length === 126) {
      length = bytes.readUInt16BE(offset + 2);
      header = 4;
    }
    if (opcode === 0x8) return length >= 2 ? bytes.readUInt16BE(offset + header) : 1005;
    offset += header + length;
  }
  return undefined;
}

describe('attacks on the gateway process', () => {
  let core: RunningCore;
  let gateway: SpawnedGateway;
  before(async () => {
    core = await startCore();
    gateway = await spawnGateway(core.address, ['--header-timeout', '1s']);
  });
  after(async () => {
    await gateway.stop();
    await core.stop();
  });

  const openConnections = async () => {
    const health = (await (await fetch(`http://${gateway.address}/healthz`)).json()) as {
      connections: number;
    };
    return health.connections;
  };

  /** Polls an async condition every 50 ms until it holds or the time is up. */
  const until = async (condition: () => Promise<boolean>, timeoutMs: number, what: string) => {
    const deadline = performance.now() + timeoutMs;
    while (!(await condition())) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(50);
    }
  };

  const stillServing = async () => {
    assert.ok(isAlive(gateway), 'the gateway process is alive');
    const result = await roundTrip(gateway.wsUrl);
    assert.equal(result.code, CloseCode.NORMAL, 'a normal client is served');
  };

  test('an upgrade with 2,000 headers is refused cleanly (400/431) or served; the process survives', async (t) => {
    // The shape of CVE-2024-37890: the handshake headers pushed past Node's 2,000-header count.
    const pushedOut = [
      `GET /v1/routechat HTTP/1.1`,
      `Host: ${gateway.address}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      ...Array.from({ length: 2000 }, (_, i) => `a${i}: b`),
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
      'Sec-WebSocket-Protocol: routechat.v1',
    ];
    // 2,000 headers that are also over Node's 16 KiB header size.
    const oversized = upgradeHead(
      gateway.address,
      Array.from({ length: 2000 }, (_, i) => `X-Padding-Header-${i}: ${'v'.repeat(10)}`),
    );
    for (const [name, request] of [
      ['handshake headers pushed past 2,000', `${pushedOut.join('\r\n')}\r\n\r\n`],
      ['2,000 headers over 16 KiB', `${oversized}\r\n`],
    ] as const) {
      const answer = await rawRequest(gateway.address, request);
      t.diagnostic(`${name}: ${answer.head.split('\r\n')[0]}`);
      assert.ok([400, 431, 101].includes(answer.status), `${name}: answered ${answer.status}`);
      if (answer.status !== 101) {
        assert.ok((await closedWithin(answer.socket, 3000)) >= 0, `${name}: the socket is closed`);
      }
      answer.socket.destroy();
    }
    await stillServing();
  });

  test('pathological Sec-WebSocket-Protocol headers are refused with 400 before any WebSocket', async (t) => {
    const cases: [string, string][] = [
      ['very long', `routechat.v1, ${'x'.repeat(10_000)}`],
      ['many protocols', Array.from({ length: 1500 }, (_, i) => `p${i}`).join(',')],
      ['many commas', `routechat.v1${','.repeat(3000)}`],
      ['empty items', 'routechat.v1, , ,'],
      ['invalid tokens', 'routechat.v1, <script>, a b'],
      ['control characters', 'routechat.v1,\x01\x02'],
      ['duplicates', 'routechat.v1, routechat.v1'],
    ];
    for (const [name, value] of cases) {
      const answer = await rawRequest(
        gateway.address,
        `${upgradeHead(gateway.address, [`Sec-WebSocket-Protocol: ${value}`])}\r\n`,
      );
      t.diagnostic(`${name} (${value.length} chars): ${answer.head.split('\r\n')[0]}`);
      assert.equal(answer.status, 400, `${name}: answered ${answer.head.split('\r\n')[0]}`);
      answer.socket.destroy();
    }
    await stillServing();
  });

  test('a flood of tiny fragments is cut off and gateway memory stays bounded', async (t) => {
    for (const [name, size, count] of [
      ['1-byte fragments', 1, 60_000],
      ['empty fragments', 0, 100_000],
    ] as const) {
      const answer = await rawRequest(gateway.address, `${upgradeHead(gateway.address)}\r\n`);
      assert.equal(answer.status, 101, `${name}: handshake`);
      const socket = answer.socket;
      const received: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.resume();
      const rssBefore = rssBytes(gateway.pid);
      let rssPeak = rssBefore;
      const sampler = setInterval(() => {
        if (isAlive(gateway)) rssPeak = Math.max(rssPeak, rssBytes(gateway.pid));
      }, 10);
      const closed = closedWithin(socket, 15_000);
      // A text message opened and never finished: every following frame is a continuation.
      socket.write(clientFrame(0x1, false, Buffer.from('{')));
      const fragment = Buffer.alloc(size, 0x20);
      let written = 0;
      while (written < count && !socket.destroyed) {
        const batch = Array.from({ length: 1000 }, () => clientFrame(0x0, false, fragment));
        written += batch.length;
        if (!socket.write(Buffer.concat(batch)))
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 200);
            socket.once('drain', () => {
              clearTimeout(timer);
              resolve();
            });
          });
      }
      const closedAfter = await closed;
      clearInterval(sampler);
      const code = serverCloseCode(Buffer.concat(received));
      const delta = rssPeak - rssBefore;
      t.diagnostic(
        `${name}: wrote ${written} fragments; closed by the gateway after ${closedAfter.toFixed(0)} ms ` +
          `with close code ${code}; RSS ${(rssBefore / MiB).toFixed(1)} → peak ${(rssPeak / MiB).toFixed(1)} MiB ` +
          `(+${(delta / MiB).toFixed(1)} MiB)`,
      );
      socket.destroy();
      assert.ok(closedAfter >= 0, `${name}: the gateway closed the connection`);
      assert.ok(
        code === CloseCode.POLICY_VIOLATION || code === CloseCode.MESSAGE_TOO_BIG,
        `${name}: close code ${code}`,
      );
      assert.ok(delta < 64 * MiB, `${name}: RSS grew by ${(delta / MiB).toFixed(1)} MiB`);
      await until(async () => (await openConnections()) === 0, 3000, `${name}: the session released`);
    }
    await stillServing();
  });

  test('a slowloris upgrade (one byte every 200 ms) is closed by the gateway within the header timeout', async (t) => {
    const socket = await openRaw(gateway.address);
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    const request = Buffer.from(`${upgradeHead(gateway.address, ['X-Slow: a'])}\r\n`);
    const started = performance.now();
    const closed = closedWithin(socket, 8000);
    let sent = 0;
    const dripping = (async () => {
      while (sent < request.length && !socket.destroyed && socket.writable) {
        socket.write(request.subarray(sent, sent + 1));
        sent += 1;
        await sleep(200);
      }
    })();
    // Others are served while the slow client holds its socket.
    await stillServing();
    const closedAfter = await closed;
    await dripping;
    const answer = Buffer.concat(received).toString('latin1').split('\r\n')[0];
    t.diagnostic(
      `closed after ${(performance.now() - started).toFixed(0)} ms, ${sent} of ${request.length} bytes sent; ` +
        `answer: ${answer || '(none)'}`,
    );
    socket.destroy();
    assert.ok(closedAfter >= 0, 'the gateway closed the slow socket');
    assert.ok(closedAfter < 4000, `closed after ${closedAfter.toFixed(0)} ms (header timeout 1 s)`);
    assert.ok(sent < request.length, 'before the request was complete');
  });

  test("many half-open sockets don't stop a normal client, and the half-sent ones are closed", async (t) => {
    const silent = await Promise.all(Array.from({ length: 100 }, () => openRaw(gateway.address)));
    const halfSent = await Promise.all(Array.from({ length: 100 }, () => openRaw(gateway.address)));
    for (const socket of halfSent) socket.write(upgradeHead(gateway.address));
    const silentClosed = silent.map((s) => closedWithin(s, 5000));
    const halfClosed = halfSent.map((s) => closedWithin(s, 5000));
    try {
      const started = performance.now();
      await stillServing();
      const servedIn = performance.now() - started;
      const halfTimes = await Promise.all(halfClosed);
      const silentTimes = await Promise.all(silentClosed);
      const closedCount = (times: number[]) => times.filter((ms) => ms >= 0).length;
      t.diagnostic(
        `normal client served in ${servedIn.toFixed(0)} ms beside 200 half-open sockets; within 5 s the gateway ` +
          `closed ${closedCount(halfTimes)}/100 half-sent and ${closedCount(silentTimes)}/100 silent ones`,
      );
      assert.ok(servedIn < 3000, `served in ${servedIn.toFixed(0)} ms`);
      assert.equal(closedCount(halfTimes), 100, 'every half-sent upgrade is closed by the header timeout');
      assert.equal(closedCount(silentTimes), 100, 'every silent connection is closed by the header timeout');
      assert.ok(isAlive(gateway));
    } finally {
      for (const socket of [...silent, ...halfSent]) socket.destroy();
    }
  });

  test('connections with no request under way (silent, half-sent, idle keep-alive) do not hold up a SIGTERM', async (t) => {
    // A header timeout longer than the test: only the shutdown can close these.
    const own = await spawnGateway(core.address, ['--header-timeout', '60s', '--shutdown-grace', '2s']);
    const silent = await openRaw(own.address);
    const halfSent = await openRaw(own.address);
    halfSent.write(upgradeHead(own.address));
    const keptAlive = await openRaw(own.address);
    keptAlive.write(`GET /healthz HTTP/1.1\r\nHost: ${own.address}\r\n\r\n`);
    await once(keptAlive, 'data');
    const client = openClient(own.wsUrl);
    await client.opened;
    try {
      const started = performance.now();
      const exit = await own.stop('SIGTERM');
      const tookMs = performance.now() - started;
      t.diagnostic(`exited ${tookMs.toFixed(0)} ms after SIGTERM, code ${exit.code}`);
      assert.equal(exit.code, 0);
      // Node alone waited for the 60 s connection timeout; the drain has nothing to wait for here.
      assert.ok(tookMs < 10_000, `exited ${tookMs.toFixed(0)} ms after SIGTERM`);
      assert.equal((await client.closed).code, CloseCode.GOING_AWAY, 'the WebSocket was drained as usual');
    } finally {
      client.ws.terminate();
      for (const socket of [silent, halfSent, keptAlive]) socket.destroy();
    }
  });

  test('after the attacks the gateway process is healthy', async () => {
    const answer = await rawRequest(
      gateway.address,
      `GET /healthz HTTP/1.1\r\nHost: ${gateway.address}\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(answer.status, 200);
    answer.socket.destroy();
    const stray = gateway.lines.filter((line) => /"level":(50|60)/.test(line));
    assert.deepEqual(stray, [], 'no error or fatal log line');
    await stillServing();
  });
});
