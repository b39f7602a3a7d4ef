/**
 * Upgrade requests that must not get a WebSocket: other paths, and handshakes that are not RFC 6455
 * opening handshakes. Hand-written on raw sockets against a real gateway on an ephemeral port, so the
 * exact status line is seen; every refusal is JSON, counted, closed by the gateway, and leaves no
 * WebSocket, session or gRPC call behind.
 */
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { buildGateway, type Gateway } from '../../gateway/app.js';
import { defaultGatewayConfig } from '../../gateway/config.js';
import { createGatewayMetrics, type GatewayMetrics } from '../../gateway/observe/metrics.js';
import { type FakeCore, until } from '../helpers/gateway.js';
import { sleep, startEchoCore } from '../helpers/hardening.js';
import { sample } from '../helpers/prometheus.js';
import {
  type RawUpgradeAnswer,
  rawUpgrade,
  type UpgradeRequestSpec,
  upgradeRequestText,
} from '../helpers/raw-upgrade.js';

describe('upgrade requests that must not become a WebSocket', () => {
  let core: FakeCore;
  let gateway: Gateway;
  let metrics: GatewayMetrics;
  let address: string;
  const logLines: string[] = [];

  before(async () => {
    core = await startEchoCore();
    metrics = createGatewayMetrics(undefined, { defaultMetrics: false });
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          logLines.push(...String(chunk).split('\n').filter(Boolean));
          done();
        },
      }),
    );
    gateway = await buildGateway(defaultGatewayConfig({ core: core.address }), { logger, metrics });
    await gateway.app.listen({ host: '127.0.0.1', port: 0 });
    const bound = gateway.app.server.address();
    address = `127.0.0.1:${typeof bound === 'object' && bound ? bound.port : 0}`;
  });
  after(async () => {
    await gateway.app.close();
    await core.stop();
  });

  const openConnections = () =>
    new Promise<number>((resolve, reject) =>
      gateway.app.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
    );

  const refusedCount = async (statusCode: number, reason: string) =>
    sample(await metrics.registry.metrics(), 'routeguide_gateway_upgrades_refused_total', {
      status_code: String(statusCode),
      reason,
    }) ?? 0;

  /** The gateway answered `status` with a JSON `{error, message}`, closed the socket itself, and no WebSocket exists. */
  const assertRefused = (answer: RawUpgradeAnswer, status: number, error: string, what: string) => {
    assert.equal(answer.status, status, `${what}: ${answer.statusLine}`);
    assert.match(answer.headers['content-type'] ?? '', /^application\/json/, what);
    // An answer to HEAD has no body (RFC 9110 §9.3.2).
    if (!what.startsWith('HEAD')) {
      const body = JSON.parse(answer.body) as { error: string; message: string };
      assert.equal(body.error, error, what);
      assert.equal(typeof body.message, 'string', what);
    }
    assert.ok(answer.closedAfterMs >= 0, `${what}: the gateway closed the socket`);
    assert.equal(gateway.app.websocketServer.clients.size, 0, `${what}: no WebSocket exists`);
    assert.equal(gateway.sessions.size, 0, `${what}: no session exists`);
  };

  test('an upgrade to a path with no WebSocket endpoint gets 404 with a JSON body, before any WebSocket exists', async () => {
    const calls = core.calls.length;
    const counted = await refusedCount(404, 'not_found');
    const targets = [
      '/',
      '/nope',
      '/metrics',
      '/healthz',
      '/readyz',
      '/index.html',
      '/V1/ROUTECHAT',
      '/v1/routechat/',
      '//v1/routechat',
      '/v1//routechat',
      '/v1/%72outechat',
      '/v1/routechat%2F',
      '/v1/routechat;x',
      '/v1/routechat#x',
      '/v1/./routechat',
      '/x/../v1/routechat',
      '/v2/routechat',
      `http://${address}/v1/routechat`,
      '*',
    ];
    for (const target of targets) {
      assertRefused(
        await rawUpgrade(address, { target, headers: { Origin: 'http://evil.example' } }),
        404,
        'not_found',
        target,
      );
    }
    assert.equal(await refusedCount(404, 'not_found'), counted + targets.length, 'each one is counted');
    assert.equal(core.calls.length, calls, 'no call was opened');
  });

  test('refused upgrades to unknown paths are not logged per request at info level', async () => {
    const before = logLines.length;
    for (let i = 0; i < 5; i += 1) assert.equal((await rawUpgrade(address, { target: '/nope' })).status, 404);
    const infoOrAbove = logLines
      .slice(before)
      .filter((line) => (JSON.parse(line) as { level: number }).level >= 30);
    assert.deepEqual(infoOrAbove, []);
  });

  test('upgrades refused at the endpoint checks (origin) are counted, not logged per request at info level', async () => {
    const before = logLines.length;
    const counted = await refusedCount(403, 'origin_not_allowed');
    for (let i = 0; i < 5; i += 1) {
      const answer = await rawUpgrade(address, { headers: { Origin: 'https://evil.example' } });
      assert.equal(answer.status, 403);
    }
    assert.equal(await refusedCount(403, 'origin_not_allowed'), counted + 5, 'each one is counted');
    const infoOrAbove = logLines
      .slice(before)
      .filter((line) => (JSON.parse(line) as { level: number }).level >= 30);
    assert.deepEqual(infoOrAbove, []);
  });

  test('300 upgrades to an unknown path from one address with a foreign Origin are all refused and leave no socket open', async () => {
    const answers = await Promise.all(
      Array.from({ length: 300 }, () =>
        rawUpgrade(address, { target: '/', headers: { Origin: 'https://evil.example' } }, 10_000),
      ),
    );
    assert.deepEqual(
      [...new Set(answers.map((a) => a.status))],
      [404],
      'every one is answered 404, none switches protocols',
    );
    assert.ok(
      answers.every((a) => a.closedAfterMs >= 0),
      'the gateway closes each socket itself',
    );
    const deadline = Date.now() + 5000;
    while ((await openConnections()) > 0 && Date.now() < deadline) await sleep(20);
    assert.equal(await openConnections(), 0, 'no connection left open on the gateway');
    assert.equal(gateway.app.websocketServer.clients.size, 0);
    // The address was never counted against its cap: a real client still gets in.
    assert.equal((await rawUpgrade(address, {}, 200)).status, 101);
  });

  test('a refused client that never closes its side does not keep its socket on the gateway', async () => {
    const sockets = Array.from({ length: 20 }, () => {
      const socket = netConnect({
        host: '127.0.0.1',
        port: Number(address.split(':')[1]),
        allowHalfOpen: true,
      });
      socket.on('error', () => {});
      socket.on('data', () => {});
      socket.write(upgradeRequestText(address, { target: '/nope' }));
      return socket;
    });
    try {
      // First every refusal arrives and the gateway ends its side (polling the gateway's count at
      // once could see 0 before the connections were even accepted)...
      const deadline = Date.now() + 5000;
      while (!sockets.every((socket) => socket.readableEnded) && Date.now() < deadline) await sleep(20);
      assert.ok(
        sockets.every((socket) => socket.readableEnded),
        'each one saw the gateway close',
      );
      // ...then, though the clients never end theirs, the gateway holds none of them.
      while ((await openConnections()) > 0 && Date.now() < deadline) await sleep(20);
      assert.equal(await openConnections(), 0, 'the gateway dropped every refused socket');
    } finally {
      for (const socket of sockets) socket.destroy();
    }
  });

  test('handshakes that are not RFC 6455 opening handshakes are refused with JSON before any WebSocket exists', async () => {
    const cases: [string, UpgradeRequestSpec, number, string][] = [
      ['HTTP/1.0', { version: 'HTTP/1.0' }, 400, 'bad_handshake'],
      ['POST with Upgrade', { method: 'POST', headers: { 'Content-Length': '0' } }, 400, 'bad_handshake'],
      ['HEAD with Upgrade', { method: 'HEAD' }, 400, 'bad_handshake'],
      ['no Host header', { headers: { Host: null } }, 400, 'bad_handshake'],
      ['a body (Content-Length)', { headers: { 'Content-Length': '4' } }, 400, 'bad_handshake'],
      ['a body (chunked)', { headers: { 'Transfer-Encoding': 'chunked' } }, 400, 'bad_handshake'],
      ['no Sec-WebSocket-Key', { headers: { 'Sec-WebSocket-Key': null } }, 400, 'bad_handshake'],
      ['a short Sec-WebSocket-Key', { headers: { 'Sec-WebSocket-Key': 'abc' } }, 400, 'bad_handshake'],
      [
        'a Sec-WebSocket-Key of 17 bytes',
        { headers: { 'Sec-WebSocket-Key': Buffer.alloc(17, 1).toString('base64') } },
        400,
        'bad_handshake',
      ],
      [
        'two Sec-WebSocket-Keys',
        { extraLines: [`Sec-WebSocket-Key: ${Buffer.alloc(16, 2).toString('base64')}`] },
        400,
        'bad_handshake',
      ],
      [
        'no Sec-WebSocket-Version',
        { headers: { 'Sec-WebSocket-Version': null } },
        426,
        'unsupported_websocket_version',
      ],
      [
        'Sec-WebSocket-Version 8',
        { headers: { 'Sec-WebSocket-Version': '8' } },
        426,
        'unsupported_websocket_version',
      ],
      [
        'Sec-WebSocket-Version 12',
        { headers: { 'Sec-WebSocket-Version': '12' } },
        426,
        'unsupported_websocket_version',
      ],
      ['Upgrade: h2c', { headers: { Upgrade: 'h2c' } }, 426, 'upgrade_required'],
      ['Upgrade: websocket, h2c', { headers: { Upgrade: 'websocket, h2c' } }, 426, 'upgrade_required'],
      ['Upgrade without Connection: upgrade', { headers: { Connection: 'close' } }, 426, 'upgrade_required'],
      [
        'a subprotocol that is not a token',
        { headers: { 'Sec-WebSocket-Protocol': 'routechat.v1, a b' } },
        400,
        'bad_subprotocol',
      ],
      [
        'a subprotocol offered twice',
        { headers: { 'Sec-WebSocket-Protocol': 'routechat.v1, routechat.v1' } },
        400,
        'bad_subprotocol',
      ],
      [
        'an empty Sec-WebSocket-Protocol',
        { headers: { 'Sec-WebSocket-Protocol': '' } },
        400,
        'bad_subprotocol',
      ],
    ];
    const calls = core.calls.length;
    for (const [what, spec, status, error] of cases) {
      const counted = await refusedCount(status, error);
      const answer = await rawUpgrade(address, spec);
      assertRefused(answer, status, error, what);
      assert.equal(await refusedCount(status, error), counted + 1, `${what} is counted`);
    }
    const version = await rawUpgrade(address, { headers: { 'Sec-WebSocket-Version': '8' } });
    assert.equal(
      version.headers['sec-websocket-version'],
      '13',
      'RFC 6455 §4.4: the version spoken is named',
    );
    assert.equal(core.calls.length, calls, 'no call was opened');
  });

  test('the WebSocket endpoint still accepts a query string and a long Connection list', async () => {
    for (const spec of [
      { target: '/v1/routechat?x=1' },
      { headers: { Connection: 'keep-alive, foo, bar, Upgrade, baz' } },
      { headers: { Upgrade: 'WebSocket', Connection: 'upgrade' } },
      { target: '/v1/routechat?' },
      { headers: { 'Content-Length': '0' } },
    ] satisfies UpgradeRequestSpec[]) {
      const answer = await rawUpgrade(address, spec, 100);
      assert.equal(answer.status, 101, JSON.stringify(spec));
      assert.equal(answer.headers['sec-websocket-protocol'], 'routechat.v1');
    }
    await until(() => gateway.sessions.size === 0, 5000, 'the sessions of the closed sockets to end');
  });
});
