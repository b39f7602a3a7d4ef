/**
 * Real core processes on one real Redis: one world of notes, one order, and the faults a client
 * sees (health NOT_SERVING, RouteChat UNAVAILABLE with a `note-outcome` trailer), never a hang.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type RouteNote, routeguide } from '../../proto/index.js';
import { type SpawnedProcess, spawnCore, spawnTs } from '../helpers/core.js';
import { type ChatResult, chatOnce, checkHealth, waitForHealth } from '../helpers/core-calls.js';
import { connect, freePort, isStatus, startGateway } from '../helpers/gateway.js';
import { makeCertificate } from '../helpers/hardening.js';
import { type RedisServer, removeDir, startRedis } from '../helpers/redis.js';

const UNAVAILABLE = 14;
const COMMAND_TIMEOUT_MS = 800;
const note = (message: string, longitude = 7): RouteNote => ({
  location: { latitude: 5, longitude },
  message,
});
const messages = (result: ChatResult) => result.notes.map((n) => n.message);
const outcome = (result: ChatResult) => result.error?.metadata.get('note-outcome')[0];

const cores: SpawnedProcess[] = [];
const servers: RedisServer[] = [];

async function coreOn(url: string, prefix: string) {
  const core = await spawnCore([
    '--note-store',
    url,
    '--redis-key-prefix',
    prefix,
    '--redis-command-timeout',
    `${COMMAND_TIMEOUT_MS}ms`,
  ]);
  cores.push(core);
  return core;
}

async function redis(options: Parameters<typeof startRedis>[0] = {}) {
  const server = await startRedis(options);
  servers.push(server);
  return server;
}

after(async () => {
  await Promise.all(cores.map((core) => core.stop('SIGKILL')));
  for (const server of servers) {
    await server.stop('SIGKILL');
    removeDir(server);
  }
});

describe('two cores on one Redis', () => {
  let a: SpawnedProcess & { address: string };
  let b: SpawnedProcess & { address: string };
  before(async () => {
    const shared = await redis();
    [a, b] = await Promise.all([coreOn(shared.url, 'world:'), coreOn(shared.url, 'world:')]);
    await Promise.all([waitForHealth(a.address, 'SERVING'), waitForHealth(b.address, 'SERVING')]);
  });

  test('a note sent through core A is in the reply to a note at the same place sent through core B', async () => {
    const first = await chatOnce(a.address, note('via A', 1));
    assert.equal(first.error, undefined);
    assert.deepEqual(messages(first), ['via A']);
    const second = await chatOnce(b.address, note('via B', 1));
    assert.equal(second.error, undefined);
    assert.deepEqual(messages(second), ['via A', 'via B']);
  });

  test('20 concurrent writers at one place through both cores see one order', async () => {
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        chatOnce(i % 2 === 0 ? a.address : b.address, note(`writer ${i}`, 2)).then((r) => ({ i, r })),
      ),
    );
    const final = messages(await chatOnce(a.address, note('final', 2)));
    assert.equal(final.length, 21);
    for (const { i, r } of replies) {
      assert.equal(r.error, undefined);
      const got = messages(r);
      assert.equal(got.at(-1), `writer ${i}`, 'the reply ends with the note itself');
      assert.deepEqual(got, final.slice(0, got.length), `writer ${i}'s reply is a prefix of the final list`);
    }
  });
});

describe('a core on Redis when Redis fails', () => {
  test('Redis down at start: the core starts NOT_SERVING and answers UNAVAILABLE (not-stored), then serves once Redis starts', async () => {
    const port = await freePort();
    const core = await coreOn(`redis://127.0.0.1:${port}`, 'late:');
    assert.equal(await checkHealth(core.address, ''), 'NOT_SERVING');
    assert.equal(await checkHealth(core.address, 'routeguide.RouteGuide'), 'NOT_SERVING');
    const refused = await chatOnce(core.address, note('too early'));
    assert.equal(refused.error?.code, UNAVAILABLE);
    assert.equal(outcome(refused), 'not-stored');
    assert.ok(refused.ms < 2000, `answered at once (${refused.ms} ms)`);

    await redis({ port });
    await waitForHealth(core.address, 'SERVING');
    const served = await chatOnce(core.address, note('in time'));
    assert.equal(served.error, undefined);
    assert.deepEqual(messages(served), ['in time'], 'the refused note was not stored');
  });

  test('notes persist across a restart of Redis (AOF) and of the core', async () => {
    const server = await redis({ appendfsync: 'always' });
    let core = await coreOn(server.url, 'durable:');
    await waitForHealth(core.address, 'SERVING');
    assert.deepEqual(messages(await chatOnce(core.address, note('before restarts'))), ['before restarts']);

    await server.stop('SIGKILL');
    await core.stop('SIGTERM');
    await redis({ port: server.port, dir: server.dir });
    core = await coreOn(server.url, 'durable:');
    await waitForHealth(core.address, 'SERVING');
    assert.deepEqual(messages(await chatOnce(core.address, note('after restarts'))), [
      'before restarts',
      'after restarts',
    ]);
  });

  test('Redis stalled: UNAVAILABLE (unknown) within the command timeout, NOT_SERVING, never a hang; SERVING again after', async () => {
    const server = await redis();
    const core = await coreOn(server.url, 'stall:');
    await waitForHealth(core.address, 'SERVING');
    server.pause();
    try {
      const stalled = await chatOnce(core.address, note('into the stall'));
      assert.equal(stalled.error?.code, UNAVAILABLE, `status: ${stalled.error?.message}`);
      assert.equal(outcome(stalled), 'unknown');
      assert.ok(stalled.ms < COMMAND_TIMEOUT_MS + 2000, `bounded by the command timeout (${stalled.ms} ms)`);
      await waitForHealth(core.address, 'NOT_SERVING');
    } finally {
      server.resume();
    }
    await waitForHealth(core.address, 'SERVING');
    const after = await chatOnce(core.address, note('after the stall'));
    assert.equal(after.error, undefined);
    assert.equal(messages(after).at(-1), 'after the stall');
  });

  test('Redis killed mid-stream: the open stream ends UNAVAILABLE on its next note', async () => {
    const server = await redis();
    const core = await coreOn(server.url, 'killed:');
    await waitForHealth(core.address, 'SERVING');
    const client = new routeguide.RouteGuide(core.address, grpc.credentials.createInsecure());
    const call = client.RouteChat({ deadline: Date.now() + 10_000 });
    const ended = new Promise<{ code: number; outcome: unknown }>((resolve) => {
      call.on('error', (error: grpc.ServiceError) =>
        resolve({ code: error.code, outcome: error.metadata.get('note-outcome')[0] }),
      );
      call.on('end', () => resolve({ code: 0, outcome: undefined }));
    });
    call.on('data', () => {});
    call.write(note('first'));
    await new Promise((resolve) => call.once('data', resolve));
    await server.stop('SIGKILL');
    call.write(note('second'));
    const result = await ended;
    client.close();
    assert.equal(result.code, UNAVAILABLE);
    assert.ok(
      result.outcome === 'not-stored' || result.outcome === 'unknown',
      `outcome ${String(result.outcome)}`,
    );
  });

  test('through the gateway, the status frame carries the note-outcome trailer', async () => {
    const server = await redis();
    const core = await coreOn(server.url, 'gateway:');
    await waitForHealth(core.address, 'SERVING');
    const gateway = await startGateway(core.address);
    try {
      const client = connect(gateway.wsUrl);
      await client.opened;
      client.send(note('stored'));
      await client.waitForFrames(1, 10_000);
      await server.stop('SIGKILL');
      client.send(note('refused'));
      const frames = await client.waitForFrames(2, 10_000);
      const status = frames.find(isStatus);
      assert.equal(status?.name, 'UNAVAILABLE', JSON.stringify(frames));
      assert.ok(
        status?.metadata['note-outcome'] === 'not-stored' || status?.metadata['note-outcome'] === 'unknown',
        JSON.stringify(status),
      );
      await client.closed;
    } finally {
      await gateway.app.close();
    }
  });

  test('rediss:// with a password: notes go over TLS, and the password is not logged', async () => {
    const tls = makeCertificate();
    const port = await freePort();
    await redis({
      extraArgs: [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--tls-cert-file',
        tls.cert,
        '--tls-key-file',
        tls.key,
        '--tls-ca-cert-file',
        tls.cert,
        '--tls-auth-clients',
        'no',
        '--requirepass',
        'hunter2',
      ],
    });
    const proc = spawnTs(
      'core-server/main.ts',
      [
        '--listen',
        '127.0.0.1:0',
        '--metrics-listen',
        'off',
        '--note-store',
        `rediss://:hunter2@127.0.0.1:${port}`,
        '--redis-key-prefix',
        'tls:',
      ],
      { NODE_EXTRA_CA_CERTS: tls.cert },
    );
    cores.push(proc);
    const line = await proc.waitForLog('core server listening');
    const address = String(line.address);
    assert.equal(line.notes, `rediss://***@127.0.0.1:${port}/0`);
    await waitForHealth(address, 'SERVING');
    assert.deepEqual(messages(await chatOnce(address, note('secret'))), ['secret']);
    assert.ok(!proc.lines.some((l) => l.includes('hunter2')), 'the password is in no log line');
    tls.remove();
  });

  test('a bad --note-store is a one-line error that does not echo the password', async () => {
    const proc = spawnTs('core-server/main.ts', ['--note-store', 'redis://:hunter2@nohostport']);
    const { code } = await proc.exited;
    assert.equal(code, 2);
    assert.equal(proc.lines.length, 1);
    assert.match(proc.lines[0] ?? '', /^routeguide-core: invalid --note-store/);
    assert.ok(!proc.lines[0]?.includes('hunter2'));
  });
});
