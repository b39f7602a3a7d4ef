import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SEED_NOTES, SEED_REPLY_MESSAGES } from '../../clients/seed-notes.js';
import { type NoteFrame, ROUTECHAT_PATH } from '../../protocol/index.js';
import { spawnCore, spawnTs } from '../helpers/core.js';
import { connect, isStatus, until } from '../helpers/gateway.js';

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
});
