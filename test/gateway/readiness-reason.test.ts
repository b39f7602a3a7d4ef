/**
 * Why a gateway is not ready, in words a proxy and an operator can read: /readyz's 503 carries the
 * reason in its JSON body and its status line (HAProxy shows the line as the check's result), and
 * the warning for a call that found no core serving says so and why, instead of grpc-js's
 * "Picked subchannel … is unhealthy". Real cores on a real redis-server, a real gateway process.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type SpawnedProcess, spawnCore, spawnTs } from '../helpers/core.js';
import { waitForHealth } from '../helpers/core-calls.js';
import { connect, freePort, startGateway, until } from '../helpers/gateway.js';
import { type RedisServer, removeDir, startRedis } from '../helpers/redis.js';

type Core = SpawnedProcess & { address: string };

const parseLine = (text: string): Record<string, unknown> => {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return {};
  }
};

describe('a gateway whose cores have lost their note store', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  let cores: Core[] = [];
  let gateway: SpawnedProcess;
  let gatewayUrl: string;

  before(async () => {
    redis = await startRedis();
    const args = [
      '--note-store',
      redis.url,
      '--redis-key-prefix',
      'readyz:',
      '--redis-command-timeout',
      '500ms',
    ];
    cores = await Promise.all([spawnCore(args), spawnCore(args)]);
    const port = await freePort();
    gateway = spawnTs('gateway/main.ts', [
      '--listen',
      `127.0.0.1:${port}`,
      '--core',
      cores.map((core) => core.address).join(','),
    ]);
    await gateway.waitForLog('gateway listening', 30_000);
    gatewayUrl = `127.0.0.1:${port}`;
    const ready = await fetch(`http://${gatewayUrl}/readyz`);
    assert.equal(ready.status, 200);
    await redis.stop('SIGKILL');
    await Promise.all(cores.map((core) => waitForHealth(core.address, 'NOT_SERVING')));
  });
  after(async () => {
    await gateway?.stop('SIGKILL');
    await Promise.all(cores.map((core) => core.stop('SIGKILL')));
    if (redis) removeDir(redis);
  });

  test('/readyz answers 503 note_store_down, in its body and in its status line', async () => {
    let response: Response | undefined;
    for (let i = 0; i < 50; i += 1) {
      response = await fetch(`http://${gatewayUrl}/readyz`);
      if (response.status === 503) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(response?.status, 503);
    assert.deepEqual(await response?.json(), { status: 'not_ready', reason: 'note_store_down' });
    assert.equal(response?.statusText, 'Not Ready: no core serving: the note store is down');
  });

  test('a call that finds no core serving is logged as that, with the store as the cause, not as one unhealthy subchannel', async () => {
    const client = connect(`ws://${gatewayUrl}/v1/routechat`);
    await client.closed;
    const warning = () =>
      gateway.lines.map(parseLine).find((entry) => /^no core is serving/.test(String(entry.msg)));
    await until(() => warning() !== undefined, 10_000, 'the warning');
    const line = warning() as Record<string, unknown>;
    assert.equal(line.level, 40, 'a warning');
    assert.equal(line.reason, 'note_store_down');
    for (const core of cores)
      assert.match(String(line.msg), new RegExp(`${core.address} not serving: its note store is down`));
    assert.ok(
      !gateway.lines.some((text) => /Picked subchannel/.test(String(parseLine(text).msg))),
      'no warning names one subchannel',
    );
  });
});

test('/readyz answers 503 core_unavailable with no core reachable, in its body and in its status line', {
  timeout: 30_000,
}, async () => {
  const gateway = await startGateway(`127.0.0.1:${await freePort()}`);
  try {
    const unreachable = await fetch(`${gateway.httpUrl}/readyz`);
    assert.equal(unreachable.status, 503);
    assert.deepEqual(await unreachable.json(), { status: 'not_ready', reason: 'core_unavailable' });
    assert.equal(unreachable.statusText, 'Not Ready: no core reachable');
  } finally {
    await gateway.app.close();
  }
});
