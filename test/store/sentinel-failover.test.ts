/**
 * Redis is not a single point of failure: two cores on a Sentinel-managed primary with two
 * replicas. The primary is killed under load; after the failover the cores serve again by
 * themselves, and no confirmed note is lost (each append waits for one replica: WAIT 1).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { RouteNote } from '../../proto/index.js';
import { type SpawnedProcess, spawnCore } from '../helpers/core.js';
import { chatOnce, waitForHealth } from '../helpers/core-calls.js';
import { until } from '../helpers/gateway.js';
import { type RedisProcess, removeDir, startRedis, startSentinel } from '../helpers/redis.js';

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
  const confirmedAfterKill = new Map<string, number>([
    [a.address, 0],
    [b.address, 0],
  ]);
  const writer = async (w: number) => {
    const mine: string[] = [];
    confirmed.set(w, mine);
    for (let i = 0; writing; i += 1) {
      const core = i % 2 === 0 ? a : b;
      const message = `w${w}-${i}`;
      const note: RouteNote = { location: { latitude: 10, longitude: w }, message };
      const result = await chatOnce(core.address, note, 5000);
      if (!result.error && result.notes.at(-1)?.message === message) {
        mine.push(message);
        outcomes.confirmed += 1;
        if (Date.now() > killedAt)
          confirmedAfterKill.set(core.address, (confirmedAfterKill.get(core.address) ?? 0) + 1);
      } else if (result.error?.metadata.get('note-outcome')[0] === 'not-stored') {
        notStored.add(message);
        outcomes.notStored += 1;
      } else {
        outcomes.unknown += 1;
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
  await until(
    () => [...confirmedAfterKill.values()].every((n) => n >= 10),
    30_000,
    'both cores confirming notes again after the failover',
  );
  writing = false;
  await Promise.all(writers);
  t.diagnostic(
    `confirmed ${outcomes.confirmed} (${beforeKill} before the kill), unknown ${outcomes.unknown}, not stored ${outcomes.notStored}; failover to ${(await sentinelView(sentinels[0]!)).get('port')}`,
  );

  await Promise.all([waitForHealth(a.address, 'SERVING'), waitForHealth(b.address, 'SERVING')]);
  for (const [w, mine] of confirmed) {
    const final = await chatOnce(a.address, { location: { latitude: 10, longitude: w }, message: 'check' });
    assert.equal(final.error, undefined);
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
