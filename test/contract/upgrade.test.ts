/** What happens before a WebSocket exists: origins, subprotocols, headers that become metadata. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { spawnTs } from '../helpers/core.js';
import {
  connect,
  type FakeCore,
  isStatus,
  note,
  type RunningGateway,
  refusedStatus,
  startFakeCore,
  startGateway,
} from '../helpers/gateway.js';
import { rawUpgrade, type UpgradeRequestSpec } from '../helpers/raw-upgrade.js';

describe('upgrade checks and metadata', () => {
  let core: FakeCore;
  let gateway: RunningGateway;
  before(async () => {
    // Echoes each note back and ends when the client ends.
    core = await startFakeCore((call) => {
      call.on('data', (n) => call.write(n));
      call.on('end', () => call.end());
    });
    gateway = await startGateway(core.address);
  });
  after(async () => {
    await gateway.app.close();
    await core.stop();
  });

  test('a cross-site Origin is refused with 403 before any WebSocket exists', async () => {
    const before = core.calls.length;
    assert.equal(await refusedStatus(gateway.wsUrl, { origin: 'https://evil.example' }), 403);
    assert.equal(core.calls.length, before, 'no call was opened');
  });

  test('same-origin, localhost and origin-less (script) upgrades are allowed by default', async () => {
    for (const headers of [
      { origin: `http://127.0.0.1:${gateway.port}` },
      { origin: 'http://localhost:5173' },
      {},
    ]) {
      const client = connect(gateway.wsUrl, { headers });
      await client.opened;
      client.ws.close();
      await client.closed;
    }
  });

  test('DNS rebinding: a loopback gateway refuses a foreign name that is both Origin and Host (403); behind a trusted proxy it is same-origin', async () => {
    const rebound = { origin: `http://evil.example:${gateway.port}`, host: `evil.example:${gateway.port}` };
    const before = core.calls.length;
    assert.equal(await refusedStatus(gateway.wsUrl, rebound), 403);
    assert.equal(core.calls.length, before, 'no call was opened');
    // Behind a proxy (--trust-proxy) the Host is the public name the proxy was asked for.
    const proxied = await startGateway(core.address, { 'trust-proxy': 'true' });
    try {
      const client = connect(proxied.wsUrl, {
        headers: {
          origin: 'https://gw.example',
          'x-forwarded-host': 'gw.example',
          'x-forwarded-proto': 'https',
        },
      });
      await client.opened;
      client.ws.close();
      await client.closed;
    } finally {
      await proxied.app.close();
    }
  });

  test('an allow-list matches scheme, host and port exactly; lookalikes are refused', async () => {
    const gw = await startGateway(core.address, {
      'allowed-origins': 'https://example.com,http://example.com:8080',
    });
    try {
      for (const origin of ['https://example.com', 'https://example.com:443', 'http://example.com:8080']) {
        const client = connect(gw.wsUrl, { headers: { origin } });
        await client.opened;
        client.ws.close();
      }
      for (const origin of [
        'https://evil-example.com',
        'https://example.com.evil.com',
        'http://example.com',
        'https://example.com:8443',
        'http://localhost:3000',
        'null',
      ]) {
        assert.equal(await refusedStatus(gw.wsUrl, { origin }), 403, origin);
      }
    } finally {
      await gw.app.close();
    }
  });

  test('an Origin with userinfo is refused with 403 even when its host is localhost or the gateway itself', async () => {
    const address = `127.0.0.1:${gateway.port}`;
    const calls = core.calls.length;
    for (const origin of [
      'http://evil.com@localhost',
      'http://user:pw@localhost:8080',
      `http://evil.com@${address}`,
      'http://evil.com@[::1]:8080',
    ]) {
      const answer = await rawUpgrade(address, { headers: { Origin: origin } });
      assert.equal(answer.status, 403, `${origin}: ${answer.statusLine}`);
      assert.equal((JSON.parse(answer.body) as { error: string }).error, 'origin_not_allowed');
    }
    assert.equal(core.calls.length, calls, 'no call was opened');
  });

  test('an Origin that is not a serialized origin is refused with 403: path, slash, query, encoding, whitespace, two headers, null', async () => {
    const address = `127.0.0.1:${gateway.port}`;
    const local = `http://${address}`;
    const cases: [string, UpgradeRequestSpec][] = [
      ['trailing slash', { headers: { Origin: `${local}/` } }],
      ['path', { headers: { Origin: `${local}/v1/routechat` } }],
      ['query', { headers: { Origin: `${local}?x` } }],
      ['fragment', { headers: { Origin: `${local}#x` } }],
      ['percent-encoded host', { headers: { Origin: 'http://%6cocalhost:8080' } }],
      ['inner whitespace', { headers: { Origin: 'http://local host:8080' } }],
      ['leading zeros in the port', { headers: { Origin: 'http://localhost:08080' } }],
      ['null', { headers: { Origin: 'null' } }],
      ['two Origin headers', { headers: { Origin: local }, extraLines: ['Origin: https://evil.example'] }],
      ['two identical Origin headers', { headers: { Origin: local }, extraLines: [`Origin: ${local}`] }],
    ];
    for (const [what, spec] of cases) {
      const answer = await rawUpgrade(address, spec);
      assert.equal(answer.status, 403, `${what}: ${answer.statusLine}`);
    }
  });

  test('allowed origins match after the serialization’s own normalisation: case, default port, IPv6 loopback', async () => {
    const address = `127.0.0.1:${gateway.port}`;
    for (const origin of [
      `HTTP://127.0.0.1:${gateway.port}`,
      'http://LOCALHOST:5173',
      'http://[::1]:8080',
      'https://localhost:443',
    ]) {
      const answer = await rawUpgrade(address, { headers: { Origin: origin } }, 100);
      assert.equal(answer.status, 101, `${origin}: ${answer.statusLine}`);
    }
  });

  test('an --allowed-origins entry that is not an origin stops the gateway: exit 2 and one line', async () => {
    const gw = spawnTs('gateway/main.ts', [
      '--listen',
      '127.0.0.1:0',
      '--core',
      core.address,
      '--allowed-origins',
      'https://example.com,https://example.com/app',
    ]);
    const timeout = setTimeout(() => void gw.stop('SIGKILL'), 20_000);
    const { code } = await gw.exited;
    clearTimeout(timeout);
    assert.equal(code, 2, gw.lines.join('\n'));
    assert.deepEqual(gw.lines, [
      'routeguide-gateway: invalid --allowed-origins (GATEWAY_ALLOWED_ORIGINS): "https://example.com/app" is not an origin (scheme://host[:port])',
    ]);
  });

  test('a bearer.<token> subprotocol reaches the core as authorization metadata and is never echoed', async () => {
    const client = connect(gateway.wsUrl, { protocols: ['routechat.v1', 'bearer.s3cr3t-token'] });
    await client.opened;
    assert.equal(client.ws.protocol, 'routechat.v1');
    client.send(note(1, 1, 'hi'));
    await client.waitForFrames(1);
    assert.equal(core.calls.at(-1)?.metadata.authorization, 'Bearer s3cr3t-token');
    client.ws.close();
    await client.closed;
  });

  test('a client offering only a bearer subprotocol gets none selected', async () => {
    const client = connect(gateway.wsUrl, { protocols: ['bearer.only'] }).ws;
    const failed = await new Promise<boolean>((resolve) => {
      client.on('open', () => resolve(false));
      client.on('error', () => resolve(true));
    });
    // ws, like browsers, fails a handshake whose response selects no offered subprotocol.
    assert.equal(failed, true);
  });

  test('no subprotocol offered is fine: the gateway selects none', async () => {
    const client = connect(gateway.wsUrl, { protocols: [] });
    await client.opened;
    assert.equal(client.ws.protocol, '');
    client.ws.close();
  });

  test('allow-listed headers become metadata; an x-request-id is generated when absent', async () => {
    const withHeaders = connect(gateway.wsUrl, {
      headers: {
        authorization: 'Bearer header-token',
        'x-request-id': 'req-123',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        'x-not-forwarded': 'nope',
      },
    });
    await withHeaders.opened;
    withHeaders.send(note(1, 1, 'a'));
    await withHeaders.waitForFrames(1);
    const metadata = core.calls.at(-1)?.metadata ?? {};
    assert.equal(metadata.authorization, 'Bearer header-token');
    assert.equal(metadata['x-request-id'], 'req-123');
    assert.equal(metadata.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    assert.equal(metadata['x-not-forwarded'], undefined);
    withHeaders.ws.close();

    const without = connect(gateway.wsUrl);
    await without.opened;
    without.send(note(1, 1, 'b'));
    await without.waitForFrames(1);
    assert.match(String(core.calls.at(-1)?.metadata['x-request-id']), /^[0-9a-f-]{36}$/);
    without.ws.close();
  });

  test('a pathological Sec-WebSocket-Protocol header is refused with 400', async () => {
    const protocols = Array.from({ length: 2000 }, (_, i) => `p${i}`);
    assert.equal(await refusedStatus(gateway.wsUrl, {}, protocols), 400);
  });

  test('the server trailers and a non-OK status reach the client: status frame, close 4000 + code', async () => {
    const failing = await startFakeCore((call) => {
      call.on('data', () => {
        const trailers = new grpc.Metadata();
        trailers.set('x-reason', 'quota');
        call.emit('error', {
          code: grpc.status.PERMISSION_DENIED,
          details: 'not on this route',
          metadata: trailers,
        });
      });
    });
    const gw = await startGateway(failing.address);
    try {
      const client = connect(gw.wsUrl);
      await client.opened;
      client.send(note(1, 1, 'x'));
      const closed = await client.closed;
      const status = client.frames.at(-1);
      assert.ok(isStatus(status));
      assert.equal(status.code, grpc.status.PERMISSION_DENIED);
      assert.equal(status.name, 'PERMISSION_DENIED');
      assert.equal(status.message, 'not on this route');
      assert.equal(status.metadata['x-reason'], 'quota');
      assert.deepEqual(closed, { code: 4007, reason: 'PERMISSION_DENIED' });
    } finally {
      await gw.app.close();
      await failing.stop();
    }
  });
});
