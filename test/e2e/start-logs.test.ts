/** `npm start`'s logs: readable lines with --log-format pretty (the default on a terminal), JSON otherwise. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { spawnTs } from '../helpers/core.js';

const ENV = {
  CORE_LISTEN: '127.0.0.1:0',
  CORE_METRICS_LISTEN: '127.0.0.1:0',
  GATEWAY_LISTEN: '127.0.0.1:0',
};

async function startOutput(args: readonly string[]): Promise<string[]> {
  const started = spawnTs('scripts/start.ts', args, ENV);
  try {
    const deadline = Date.now() + 30_000;
    while (!started.lines.some((line) => line.includes('RouteGuide is up')) && Date.now() < deadline) {
      if (started.child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(
      started.lines.some((line) => line.includes('RouteGuide is up')),
      started.lines.join('\n'),
    );
    return started.lines.filter((line) => /listening/.test(line));
  } finally {
    await started.stop('SIGTERM');
  }
}

describe('npm start logs', () => {
  test('--log-format pretty prints readable lines (level, name, message), not JSON', async () => {
    const lines = await startOutput(['--log-format', 'pretty']);
    const listening = lines.find((line) => line.includes('core server listening'));
    assert.ok(listening, lines.join('\n'));
    assert.match(listening, /INFO.*\(core\).*core server listening/);
    assert.throws(() => JSON.parse(listening));
  });

  test('piped (not a terminal), the logs stay JSON lines', async () => {
    const lines = await startOutput([]);
    const listening = lines.find((line) => line.includes('core server listening'));
    assert.ok(listening, lines.join('\n'));
    assert.equal((JSON.parse(listening) as { msg: string }).msg, 'core server listening');
  });
});
