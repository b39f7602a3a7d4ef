import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, createServer } from 'node:net';
import { describe, test } from 'node:test';
import { SEED_NOTES, SEED_REPLY_MESSAGES } from '../../clients/seed-notes.js';
import { type NoteFrame, ROUTECHAT_PATH } from '../../protocol/index.js';
import { spawnCore, spawnTs } from '../helpers/core.js';
import { connect, isStatus, until } from '../helpers/gateway.js';
import { sample } from '../helpers/prometheus.js';

describe('gateway cluster (several processes sharing one port)', () => {
  test('two workers serve RouteChat on one port and SIGTERM stops them all with exit 0', async () => {
    const core = await spawnCore();
    const cluster = spawnTs(
      'gateway/cluster.ts',
      ['--listen', '127.0.0.1:0', '--core', core.address, '--log-level', 'info'],
      {
        GATEWAY_WORKERS: '2',
      },
    );
    try {
      const listening = () =>
        cluster.lines
          .filter((l) => l.includes('"gateway listening"'))
          .map((l) => JSON.parse(l) as { pid: number; address: string });
      await until(() => listening().length === 2, 15_000, 'two workers listening');
      const first = listening()[0];
      const pids = new Set(listening().map((l) => l.pid));
      assert.equal(pids.size, 2, 'two worker processes');
      const url = `ws://${String(first?.address)}${ROUTECHAT_PATH}`;
      const clients = Array.from({ length: 4 }, () => connect(url));
      await Promise.all(clients.map((c) => c.opened));
      const [seed, ...others] = clients;
      for (const note of SEED_NOTES) seed?.send(note);
      seed?.send({ type: 'end' });
      await seed?.closed;
      const notes = (seed?.frames ?? []).filter((f): f is NoteFrame => 'location' in f);
      assert.deepEqual(
        notes.map((n) => n.message),
        [...SEED_REPLY_MESSAGES],
      );
      assert.ok(isStatus(seed?.frames.at(-1)));
      cluster.child.kill('SIGTERM');
      const closes = await Promise.all(others.map((c) => c.closed));
      assert.ok(closes.every((c) => c.code === 1001));
      assert.equal((await cluster.exited).code, 0);
    } finally {
      await cluster.stop('SIGKILL');
      await core.stop();
    }
  });

  test('one scrape of --metrics-listen covers every worker (the primary aggregates)', async () => {
    const core = await spawnCore();
    const cluster = spawnTs(
      'gateway/cluster.ts',
      [
        '--listen',
        '127.0.0.1:0',
        '--core',
        core.address,
        '--log-level',
        'info',
        '--metrics-listen',
        '127.0.0.1:0',
      ],
      { GATEWAY_WORKERS: '2' },
    );
    try {
      const parsed = () =>
        cluster.lines
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { pid: number; msg: string; address?: string; metrics?: string });
      const listening = () => parsed().filter((l) => l.msg === 'gateway listening');
      await until(() => listening().length === 2, 15_000, 'two workers listening');
      await until(
        () => parsed().some((l) => l.msg === 'cluster metrics listening'),
        15_000,
        'the metrics line',
      );
      const metricsUrl = String(parsed().find((l) => l.msg === 'cluster metrics listening')?.metrics);
      assert.ok(
        listening().every((l) => l.metrics === 'cluster primary'),
        'workers serve no metrics port',
      );
      const url = `ws://${String(listening()[0]?.address)}${ROUTECHAT_PATH}`;
      const clients = Array.from({ length: 4 }, () => connect(url));
      await Promise.all(clients.map((c) => c.opened));
      await until(
        () => parsed().filter((l) => l.msg === 'connection opened').length === 4,
        10_000,
        'four connections logged',
      );
      const servedBy = new Set(
        parsed()
          .filter((l) => l.msg === 'connection opened')
          .map((l) => l.pid),
      );
      assert.equal(servedBy.size, 2, 'both workers hold connections');
      const response = await fetch(metricsUrl);
      assert.equal(response.status, 200);
      const text = await response.text();
      assert.equal(sample(text, 'routeguide_gateway_open_connections'), 4, 'the sum over both workers');
      assert.equal(sample(text, 'routeguide_gateway_connections_total'), 4);
      assert.equal(sample(text, 'routeguide_gateway_upstream_active_calls'), 4);
      for (const client of clients) client.ws.close();
      await Promise.all(clients.map((c) => c.closed));
      cluster.child.kill('SIGTERM');
      assert.equal((await cluster.exited).code, 0);
    } finally {
      await cluster.stop('SIGKILL');
      await core.stop();
    }
  });

  test('a metrics address in use stops the cluster: exit 2 and one line', async () => {
    const taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const port = (taken.address() as AddressInfo).port;
    const cluster = spawnTs(
      'gateway/cluster.ts',
      ['--listen', '127.0.0.1:0', '--log-level', 'silent', '--metrics-listen', `127.0.0.1:${port}`],
      { GATEWAY_WORKERS: '2' },
    );
    try {
      const timeout = setTimeout(() => void cluster.stop('SIGKILL'), 20_000);
      const { code } = await cluster.exited;
      clearTimeout(timeout);
      assert.equal(code, 2, cluster.lines.join('\n'));
      assert.deepEqual(cluster.lines, [
        `routeguide-gateway: cannot serve metrics on 127.0.0.1:${port}: address already in use`,
      ]);
    } finally {
      await cluster.stop('SIGKILL');
      taken.close();
    }
  });
});
