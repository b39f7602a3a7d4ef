/**
 * The Redis note store when Redis is away, stalled or misused: it fails fast with a typed outcome,
 * never hangs, never half-stores a note, and recovers by itself.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import {
  createRedisNoteStore,
  DEFAULT_NOTE_LIMITS,
  type NoteStore,
  NoteStoreError,
  type RedisNoteStoreOptions,
} from '../../core-server/notes/index.js';
import { freePort, until } from '../helpers/gateway.js';
import { type RedisServer, removeDir, startRedis } from '../helpers/redis.js';

const here = { latitude: 1, longitude: 2 };
const COMMAND_TIMEOUT_MS = 500;

const servers: RedisServer[] = [];
const stores: NoteStore[] = [];

function storeOn(port: number, overrides: Partial<RedisNoteStoreOptions> = {}) {
  const store = createRedisNoteStore({
    spec: { kind: 'redis', address: { host: '127.0.0.1', port }, tls: false, db: 0 },
    limits: DEFAULT_NOTE_LIMITS,
    keyPrefix: 'faults:',
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    probeIntervalMs: 200,
    ...overrides,
  });
  stores.push(store);
  let available = false;
  store.watchAvailability((up) => {
    available = up;
  });
  return { store, isAvailable: () => available };
}

async function rejection(promise: Promise<unknown>): Promise<{ error: NoteStoreError; ms: number }> {
  const started = Date.now();
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof NoteStoreError, `a NoteStoreError, got ${String(error)}`);
    return { error, ms: Date.now() - started };
  }
  assert.fail('expected the append to fail');
}

after(async () => {
  await Promise.all(stores.map((store) => store.close()));
  for (const server of servers) {
    await server.stop('SIGKILL');
    removeDir(server);
  }
});

describe('Redis note store faults', () => {
  test('Redis down at start: unavailable, appends fail at once as not-stored, then it recovers by itself', async () => {
    const port = await freePort();
    const { store, isAvailable } = storeOn(port);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(isAvailable(), false);
    const { error, ms } = await rejection(store.append({ location: here, message: 'early' }));
    assert.equal(error.outcome, 'not-stored');
    assert.ok(ms < 100, `failed fast (${ms} ms)`);

    const redis = await startRedis({ port });
    servers.push(redis);
    await until(isAvailable, 10_000, 'the store available once Redis is up');
    assert.deepEqual(
      (await store.append({ location: here, message: 'late' })).map((n) => n.message),
      ['late'],
      'the refused note was not stored',
    );
  });

  test('Redis stalled: the append fails as unknown within the command timeout, then fast until it answers again', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const { store, isAvailable } = storeOn(redis.port, { keyPrefix: 'stall:' });
    await until(isAvailable, 10_000, 'available');
    await store.append({ location: here, message: 'before' });
    redis.pause();
    try {
      const stalled = await rejection(store.append({ location: here, message: 'during' }));
      assert.equal(stalled.error.outcome, 'unknown', 'the script may have run');
      assert.ok(stalled.ms >= COMMAND_TIMEOUT_MS - 50, `waited for the timeout (${stalled.ms} ms)`);
      assert.ok(stalled.ms < COMMAND_TIMEOUT_MS + 1000, `bounded by the timeout (${stalled.ms} ms)`);
      assert.equal(isAvailable(), false);
      const next = await rejection(store.append({ location: here, message: 'next' }));
      assert.equal(next.error.outcome, 'not-stored');
      assert.ok(next.ms < 100, `failed fast while stalled (${next.ms} ms)`);
    } finally {
      redis.resume();
    }
    await until(isAvailable, 10_000, 'available again after SIGCONT');
    const list = (await store.append({ location: here, message: 'after' })).map((n) => n.message);
    // The stalled script was queued in Redis and ran on SIGCONT: that is why its outcome is unknown.
    assert.deepEqual(list, ['before', 'during', 'after']);
  });

  test('Redis killed: appends fail without hanging, and the store serves again after a restart on the same AOF', async () => {
    const redis = await startRedis({ appendfsync: 'always' });
    const { store, isAvailable } = storeOn(redis.port, { keyPrefix: 'kill:' });
    await until(isAvailable, 10_000, 'available');
    await store.append({ location: here, message: 'kept' });
    await redis.stop('SIGKILL');
    await until(() => !isAvailable(), 5000, 'unavailable after the kill');
    const { error, ms } = await rejection(store.append({ location: here, message: 'refused' }));
    assert.equal(error.outcome, 'not-stored');
    assert.ok(ms < 100, `failed fast (${ms} ms)`);

    const again = await startRedis({ port: redis.port, dir: redis.dir });
    servers.push(again);
    await until(isAvailable, 10_000, 'available after the restart');
    assert.deepEqual(
      (await store.append({ location: here, message: 'after' })).map((n) => n.message),
      ['kept', 'after'],
    );
  });

  test('the connection drops with the script in flight: unknown, and the message says so', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const { store, isAvailable } = storeOn(redis.port, { keyPrefix: 'drop:' });
    await until(isAvailable, 10_000, 'available');
    redis.pause();
    const inFlight = rejection(store.append({ location: here, message: 'in flight' }));
    // Well within the command timeout: the socket closes under the script, it does not time out.
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Killed while stopped (stop() would SIGCONT first, and Redis might answer before dying).
    redis.child.kill('SIGKILL');
    const { error, ms } = await inFlight;
    assert.equal(error.outcome, 'unknown', 'the script may have run');
    assert.ok(ms < COMMAND_TIMEOUT_MS, `ended by the drop, not the timeout (${ms} ms)`);
    // Not ioredis's "Reached the max retries per request limit (which is 0)".
    assert.match(error.message, /connection to Redis dropped with the script in flight/);
  });

  test('a note is never half-stored: a refused script leaves no trace', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const { store, isAvailable } = storeOn(redis.port, { keyPrefix: 'half:' });
    await until(isAvailable, 10_000, 'available');
    await store.append({ location: here, message: 'first' });
    // Another program wrote a string where the store keeps its order set.
    await redis.cli('SET', 'half:order', 'not a sorted set');
    const { error } = await rejection(store.append({ location: here, message: 'second' }));
    assert.equal(error.outcome, 'not-stored');
    assert.match(error.message, /WRONGTYPE/);
    assert.equal(await redis.cli('LRANGE', 'half:loc:1,2', '0', '-1'), '1:first');
    assert.equal(await redis.cli('GET', 'half:seq'), '1');
    assert.equal(await redis.cli('HGET', 'half:stats', 'notes'), '1');
  });

  test('keys live under the prefix, so two deployments share one Redis without seeing each other', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const one = storeOn(redis.port, { keyPrefix: 'one:' });
    const two = storeOn(redis.port, { keyPrefix: 'two:' });
    await until(() => one.isAvailable() && two.isAvailable(), 10_000, 'available');
    await one.store.append({ location: here, message: 'for one' });
    assert.deepEqual(
      (await two.store.append({ location: here, message: 'for two' })).map((n) => n.message),
      ['for two'],
    );
    const keys = (await redis.cli('--scan')).split('\n').sort();
    assert.deepEqual(keys, [
      'one:loc:1,2',
      'one:order',
      'one:seq',
      'one:stats',
      'two:loc:1,2',
      'two:order',
      'two:seq',
      'two:stats',
    ]);
  });

  test('WAIT for a replica that is not there: the note is reported unknown, not stored-and-safe', async () => {
    const redis = await startRedis();
    servers.push(redis);
    const { store, isAvailable } = storeOn(redis.port, { keyPrefix: 'wait:', waitReplicas: 1 });
    await until(isAvailable, 10_000, 'available');
    const { error, ms } = await rejection(store.append({ location: here, message: 'unreplicated' }));
    assert.equal(error.outcome, 'unknown');
    assert.match(error.message, /acknowledged by 0 of 1 replicas/);
    assert.ok(ms < COMMAND_TIMEOUT_MS + 500, `bounded (${ms} ms)`);
    assert.equal(isAvailable(), true, 'the primary itself is fine');
  });
});
