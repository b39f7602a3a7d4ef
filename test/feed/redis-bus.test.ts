/**
 * Live notes across replicas: two cores, each with its own Redis note store and bus on one real
 * redis-server (started here on a free port, in a temp dir, and stopped).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { createRedisNotes, DEFAULT_NOTE_LIMITS, type Notes } from '../../core-server/notes/index.js';
import {
  type NoteFeedClient,
  type Rectangle,
  type RouteNote__Output,
  routeguide,
} from '../../proto/index.js';
import { type RunningCore, startCore } from '../helpers/core.js';
import { freePort } from '../helpers/gateway.js';

/** A throwaway redis-server; `restart` brings it back on the same port. */
async function startRedis(port?: number) {
  const chosen = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'feed-redis-'));
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(chosen), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.on('error', () => {});
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    port: chosen,
    cli: (...args: string[]) =>
      new Promise<string>((resolve, reject) =>
        execFile('redis-cli', ['-p', String(chosen), ...args], { timeout: 10_000 }, (error, stdout) =>
          error ? reject(error) : resolve(stdout.trim()),
        ),
      ),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitUntil(what: string, check: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

function watch(client: NoteFeedClient, rect: Rectangle) {
  const call = client.Watch(rect);
  const notes: string[] = [];
  call.on('data', (note: RouteNote__Output) => notes.push(note.message));
  call.on('error', () => {});
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  const registered = new Promise<void>((resolve, reject) => {
    call.once('metadata', () => resolve());
    void status.then((s) => reject(new Error(`watch ended before headers: ${s.code} ${s.details}`)));
  });
  registered.catch(() => {});
  return { call, notes, status, registered };
}

async function post(core: RunningCore, messages: string[], latitude = 5) {
  const call = core.client.RouteChat();
  const done = new Promise<void>((resolve, reject) => {
    call.on('error', reject);
    call.on('end', resolve);
  });
  call.on('data', () => {});
  for (const message of messages) call.write({ location: { latitude, longitude: 5 }, message });
  call.end();
  await done;
}

const AREA: Rectangle = { lo: { latitude: 0, longitude: 0 }, hi: { latitude: 10, longitude: 10 } };
const PREFIX = 'routeguide-test:';

describe('live notes over Redis pub/sub', { timeout: 60_000 }, () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  const replicas: { core: RunningCore; notes: Notes; available: () => boolean; feed: NoteFeedClient }[] = [];
  const allLive = () => replicas.every((r) => r.available() && r.notes.bus.isLive());

  before(async () => {
    redis = await startRedis();
    for (let i = 0; i < 2; i += 1) {
      const notes = createRedisNotes({
        spec: { kind: 'redis', address: { host: '127.0.0.1', port: redis.port }, tls: false, db: 0 },
        limits: DEFAULT_NOTE_LIMITS,
        keyPrefix: PREFIX,
        commandTimeoutMs: 1000,
      });
      let available = false;
      notes.store.watchAvailability((now) => {
        available = now;
      });
      const core = await startCore({ notes: notes.store, bus: notes.bus });
      replicas.push({
        core,
        notes,
        available: () => available,
        feed: new routeguide.NoteFeed(core.address, grpc.credentials.createInsecure()),
      });
    }
    await waitUntil('both stores are available and both buses subscribed', allLive);
  });
  after(async () => {
    for (const { core, notes, feed } of replicas) {
      feed.close();
      await core.stop();
      await Promise.all([notes.store.close(), notes.bus.close()]);
    }
    await redis.stop();
  });

  test('a note posted through any core reaches the watchers of every core, once each, in one order', async () => {
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    const watchers = [watch(a.feed, AREA), watch(b.feed, AREA)];
    await Promise.all(watchers.map((w) => w.registered));
    const viaA = Array.from({ length: 10 }, (_, i) => `a-${i}`);
    const viaB = Array.from({ length: 10 }, (_, i) => `b-${i}`);
    await post(a.core, viaA);
    await post(b.core, viaB);
    await post(b.core, ['outside'], 50);
    await waitUntil('every watcher has all 20 notes', () => watchers.every((w) => w.notes.length >= 20));
    await sleep(200);
    for (const w of watchers) assert.deepEqual(w.notes, [...viaA, ...viaB]);
    for (const w of watchers) w.call.cancel();
  });

  test('a note the store refused is not published', async () => {
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    const watcher = watch(b.feed, AREA);
    await watcher.registered;
    // Another program wrote a string where the store keeps the place's list: the script refuses.
    await redis.cli('SET', `${PREFIX}loc:6,5`, 'not a list');
    await assert.rejects(post(a.core, ['refused'], 6));
    await post(a.core, ['stored']);
    await waitUntil('the stored note arrived', () => watcher.notes.length >= 1);
    await sleep(200);
    assert.deepEqual(watcher.notes, ['stored']);
    watcher.call.cancel();
  });

  test('a lost subscription ends the watchers UNAVAILABLE; once it is back, new notes arrive', async () => {
    const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    const before = watch(b.feed, AREA);
    await before.registered;
    // Redis goes away: B's subscription drops, so its watcher ends instead of silently missing notes.
    await redis.stop();
    const ended = await before.status;
    assert.equal(ended.code, grpc.status.UNAVAILABLE);
    assert.equal(ended.details, 'live notes interrupted');
    await waitUntil('B knows its bus is down', () => !b.notes.bus.isLive());
    const refused = await watch(b.feed, AREA).status;
    assert.equal(refused.code, grpc.status.UNAVAILABLE);
    assert.equal(refused.details, 'live notes unavailable');
    // Not stored while Redis is down, so never published: nothing is queued for later.
    await assert.rejects(post(a.core, ['while-down']));

    redis = await startRedis(redis.port);
    await waitUntil('both stores are available and both buses subscribed again', allLive, 15_000);
    const after = watch(b.feed, AREA);
    await after.registered;
    await post(a.core, ['after']);
    await waitUntil('the new note arrived', () => after.notes.length >= 1);
    await sleep(200);
    assert.deepEqual(after.notes, ['after']);
    after.call.cancel();
  });
});
