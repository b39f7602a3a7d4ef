/**
 * Redis is not a single point of failure: two cores on a Sentinel-managed primary with two
 * replicas. The primary is killed under load; after the failover the cores serve again by
 * themselves, and no confirmed note is lost (each append waits for one replica: WAIT 1).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createRedisNotes, DEFAULT_NOTE_LIMITS, parseNoteStoreSpec } from '../../core-server/notes/index.js';
import type { RouteNote } from '../../proto/index.js';
import { type SpawnedProcess, spawnCore } from '../helpers/core.js';
import { chatOnce, waitForHealth } from '../helpers/core-calls.js';
import { until } from '../helpers/gateway.js';
import {
  type RedisProcess,
  removeDir,
  startFakeSentinel,
  startRedis,
  startSentinel,
} from '../helpers/redis.js';

const MASTER = 'notes';
const processes: RedisProcess[] = [];
const cores: SpawnedProcess[] = [];
/** The writers' loop condition; after() clears it too, so a failed test leaves no writer running. */
let writing = true;

after(async () => {
  writing = false;
  await Promise.all(cores.map((core) => core.stop('SIGKILL')));
  for (const proc of processes) {
    await proc.stop('SIGKILL');
    removeDir(proc);
  }
});

/** `SENTINEL MASTER notes` as a map (redis-cli prints it as alternating lines). */
async function sentinelView(sentinel: RedisProcess): Promise<Map<string, string>> {
  const lines = (await sentinel.cli('SENTINEL', 'MASTER', MASTER)).split('\n');
  const view = new Map<string, string>();
  for (let i = 0; i + 1 < lines.length; i += 2) view.set(lines[i]!, lines[i + 1]!);
  return view;
}

test('the primary killed under load: the cores serve again after the failover and no confirmed note is lost', async (t) => {
  const primary = await startRedis({ appendfsync: 'always' });
  processes.push(primary);
  const replicas = await Promise.all(
    [1, 2].map(() => startRedis({ appendfsync: 'always', replicaOf: primary.port })),
  );
  processes.push(...replicas);
  await Promise.all(replicas.map((r) => r.waitForLog(/MASTER <-> REPLICA sync: Finished with success/)));

  const sentinels = await Promise.all(
    [1, 2, 3].map(() => startSentinel({ primaryPort: primary.port, masterName: MASTER, quorum: 2 })),
  );
  processes.push(...sentinels);
  // A failover needs a majority of sentinels that know each other and the replicas.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const views = await Promise.all(sentinels.map(sentinelView));
    if (views.every((v) => v.get('num-slaves') === '2' && v.get('num-other-sentinels') === '2')) break;
    assert.ok(Date.now() < deadline, 'the sentinels see both replicas and each other');
    await new Promise((r) => setTimeout(r, 200));
  }

  const url = `redis-sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${MASTER}`;
  const coreArgs = [
    '--note-store',
    url,
    '--redis-wait-replicas',
    '1',
    '--redis-command-timeout',
    '1s',
    '--max-notes-per-location',
    '100000',
  ];
  const [a, b] = await Promise.all([spawnCore(coreArgs), spawnCore(coreArgs)]);
  cores.push(a, b);
  await Promise.all([waitForHealth(a.address, 'SERVING'), waitForHealth(b.address, 'SERVING')]);

  // Four writers, each at its own place, alternating between the cores, one note per RouteChat.
  const confirmed = new Map<number, string[]>();
  const notStored = new Set<string>();
  const outcomes = { confirmed: 0, unknown: 0, notStored: 0 };
  let killedAt = Number.POSITIVE_INFINITY;
  /** What each core answered since the kill, so a timeout says which core stopped and why. */
  const sinceKill = new Map(
    [a, b].map((core) => [
      core.address,
      { confirmed: 0, unknown: 0, notStored: 0, lastError: '', lastConfirmedMs: -1 },
    ]),
  );
  const writer = async (w: number) => {
    const mine: string[] = [];
    confirmed.set(w, mine);
    for (let i = 0; writing; i += 1) {
      const core = i % 2 === 0 ? a : b;
      const message = `w${w}-${i}`;
      const note: RouteNote = { location: { latitude: 10, longitude: w }, message };
      const result = await chatOnce(core.address, note, 5000);
      const mark = Date.now() > killedAt ? sinceKill.get(core.address) : undefined;
      if (mark && result.error) mark.lastError = `${result.error.code} ${result.error.details}`;
      if (!result.error && result.notes.at(-1)?.message === message) {
        mine.push(message);
        outcomes.confirmed += 1;
        if (mark) {
          mark.confirmed += 1;
          mark.lastConfirmedMs = Date.now() - killedAt;
        }
      } else if (result.error?.metadata.get('note-outcome')[0] === 'not-stored') {
        notStored.add(message);
        outcomes.notStored += 1;
        if (mark) mark.notStored += 1;
      } else {
        outcomes.unknown += 1;
        if (mark) mark.unknown += 1;
      }
      await new Promise((r) => setTimeout(r, result.error ? 100 : 20));
    }
  };
  const writers = [0, 1, 2, 3].map(writer);

  await until(() => outcomes.confirmed >= 40, 20_000, 'notes confirmed before the kill');
  const beforeKill = outcomes.confirmed;
  killedAt = Date.now();
  await primary.stop('SIGKILL');
  await Promise.all(sentinels.map((s) => s.waitForLog(/\+switch-master/, 30_000)));
  const perCore = () =>
    [a, b]
      .map((core, i) => {
        const m = sinceKill.get(core.address)!;
        const warnings = core.lines.filter((line) => /"level":[45]0/.test(line)).slice(-3);
        return `core ${'ab'[i]} (${core.address}): confirmed ${m.confirmed} (last at +${m.lastConfirmedMs} ms), unknown ${m.unknown}, not stored ${m.notStored}, last error ${m.lastError || 'none'}; its last warnings:\n${warnings.join('\n')}`;
      })
      .join('\n');
  try {
    await until(
      () => [...sinceKill.values()].every((m) => m.confirmed >= 10),
      30_000,
      'both cores confirming notes again after the failover',
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; since the kill:\n${perCore()}`);
  }
  writing = false;
  await Promise.all(writers);
  t.diagnostic(
    `confirmed ${outcomes.confirmed} (${beforeKill} before the kill), unknown ${outcomes.unknown}, not stored ${outcomes.notStored}; failover to ${(await sentinelView(sentinels[0]!)).get('port')}`,
  );

  await Promise.all([waitForHealth(a.address, 'SERVING'), waitForHealth(b.address, 'SERVING')]);
  // Reading a place means appending a note there, and that append waits for a replica too (WAIT 1):
  // on a loaded machine the new primary's replica may miss one WAIT (the core then says `unknown`,
  // rightly), so a read is retried until it succeeds.
  const readPlace = async (w: number) => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const result = await chatOnce(a.address, {
        location: { latitude: 10, longitude: w },
        message: 'check',
      });
      if (!result.error) return result;
      assert.ok(
        Date.now() < deadline,
        `writer ${w}: reading the place failed for 15 s: ${result.error.details}`,
      );
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  for (const [w, mine] of confirmed) {
    const final = await readPlace(w);
    const held = final.notes.map((n) => n.message);
    const kept = new Set(held);
    const lost = mine.filter((m) => !kept.has(m));
    assert.deepEqual(lost, [], `writer ${w}: every confirmed note survived the failover`);
    const order = held.filter((m) => mine.includes(m));
    assert.deepEqual(order, mine, `writer ${w}: confirmed notes in the order they were confirmed`);
    assert.deepEqual(
      held.filter((m) => notStored.has(m)),
      [],
      `writer ${w}: no note reported not-stored is there`,
    );
  }
});

test('a failover announced while a core is reconnecting: its store and its note bus connect again', async () => {
  // ioredis ends a client for good when its failover detector aborts a connect attempt (see
  // core-server/notes/redis-revive.ts). A real failover hits that window only by chance (a loaded
  // machine); a sentinel that answers on cue hits it every time.
  const redis = await startRedis();
  const sentinel = await startFakeSentinel(MASTER, redis.port);
  const parsed = parseNoteStoreSpec(`redis-sentinel://127.0.0.1:${sentinel.port}/${MASTER}`);
  assert.ok(parsed.ok && parsed.spec.kind === 'redis-sentinel');
  const { store, bus } = createRedisNotes({
    spec: parsed.spec,
    limits: DEFAULT_NOTE_LIMITS,
    keyPrefix: 'race:',
    commandTimeoutMs: 1000,
  });
  let available = false;
  store.watchAvailability((now) => {
    available = now;
  });
  try {
    await until(() => available && bus.isLive(), 10_000, 'the store and the bus connected');
    // Each client's failover detector subscribes to the sentinel once the client is connected.
    await until(() => sentinel.subscribed >= 2, 10_000, 'two failover detectors subscribed');

    // Drop the two connections (store, bus subscriber) while the master look-ups hang, then
    // announce a failover while both are in the middle of reconnecting.
    sentinel.holdLookups = true;
    await redis.cli('CLIENT', 'KILL', 'TYPE', 'normal');
    await redis.cli('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await until(() => sentinel.heldLookups >= 2, 10_000, 'two reconnects asking the sentinel');
    assert.equal(available, false);
    sentinel.announceSwitch(redis.port);
    // A detector that got the message drops its sentinel connections (and aborts the reconnect).
    await until(() => sentinel.subscribed === 0, 10_000, 'the failover detectors reacted');
    sentinel.holdLookups = false;
    sentinel.releaseLookups();

    const appended = async () => {
      try {
        await store.append({ location: { latitude: 1, longitude: 1 }, message: 'after' });
        return true;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 10_000;
    while (!(available && bus.isLive() && (await appended()))) {
      assert.ok(
        Date.now() < deadline,
        `connected again within 10 s (store available: ${available}, bus live: ${bus.isLive()})`,
      );
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await Promise.all([store.close(), bus.close()]);
    await sentinel.close();
    await redis.stop('SIGKILL');
    removeDir(redis);
  }
});

test('a core on Sentinel exits after SIGTERM (its failover-detector connections are closed too)', async () => {
  const redis = await startRedis();
  const sentinel = await startSentinel({ primaryPort: redis.port, masterName: MASTER });
  processes.push(redis, sentinel);
  const core = await spawnCore(['--note-store', `redis-sentinel://127.0.0.1:${sentinel.port}/${MASTER}`]);
  cores.push(core);
  await waitForHealth(core.address, 'SERVING');
  core.child.kill('SIGTERM');
  const exit = await Promise.race([
    core.exited,
    new Promise<string>((resolve) => setTimeout(() => resolve('still running 10 s after SIGTERM'), 10_000)),
  ]);
  assert.deepEqual(exit, { code: 0, signal: null });
});
