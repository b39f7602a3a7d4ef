import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SEED_REPLY_MESSAGES } from '../../clients/seed-notes.js';
import { spawnCore, spawnTs } from '../helpers/core.js';

describe('native gRPC client (clients/grpc)', () => {
  test('--json walkthrough prints every step as JSON lines, ending with the seed RouteChat sequence', async () => {
    const core = await spawnCore();
    try {
      const client = spawnTs('clients/grpc/main.ts', ['--server', core.address, '--json']);
      const { code } = await client.exited;
      assert.equal(code, 0, client.lines.join('\n'));
      const events = client.lines.map(
        (line) => JSON.parse(line) as Record<string, { message?: string; name?: string }>,
      );
      const getFeatures = events.filter((e) => e.step === ('GetFeature' as unknown));
      assert.equal(getFeatures.length, 2);
      assert.equal(
        getFeatures[0]?.feature?.name,
        'Berkshire Valley Management Area Trail, Jefferson, NJ, USA',
      );
      assert.equal(getFeatures[1]?.feature?.name, '');
      assert.equal(events.filter((e) => e.step === ('ListFeatures' as unknown)).length, 100);
      const summary = events.find((e) => 'summary' in e)?.summary as unknown as { point_count: number };
      assert.equal(summary.point_count, 10);
      const received = events.filter((e) => 'received' in e).map((e) => e.received?.message);
      assert.deepEqual(received, [...SEED_REPLY_MESSAGES]);
    } finally {
      await core.stop();
    }
  });

  test('human output reads like the official example clients', async () => {
    const core = await spawnCore();
    try {
      const client = spawnTs('clients/grpc/main.ts', ['--server', core.address]);
      assert.equal((await client.exited).code, 0);
      const text = client.lines.join('\n');
      assert.match(
        text,
        /GetFeature: found feature "Berkshire Valley Management Area Trail, Jefferson, NJ, USA"/,
      );
      assert.match(text, /GetFeature: no feature at \(0, 0\)/);
      assert.match(text, /RecordRoute: finished trip with 10 points/);
      assert.match(text, /RouteChat: got message "Fourth message" at point\(0, 1\)/);
    } finally {
      await core.stop();
    }
  });

  test('an unreachable server is a clear UNAVAILABLE error and exit 1', async () => {
    const client = spawnTs('clients/grpc/main.ts', ['--server', '127.0.0.1:1']);
    const { code } = await client.exited;
    assert.equal(code, 1);
    assert.match(client.lines.join('\n'), /^routeguide-client: UNAVAILABLE/);
  });
});
