import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type RouteNote__Output, routeguide } from '../../proto/index.js';
import { spawnCore, spawnTs } from '../helpers/core.js';

describe('core server process', () => {
  test('--help lists the flags and exits 0', async () => {
    const proc = spawnTs('core-server/main.ts', ['--help']);
    const { code } = await proc.exited;
    assert.equal(code, 0);
    const help = proc.lines.join('\n');
    for (const flag of [
      '--listen',
      '--db',
      '--max-notes-per-location',
      '--max-total-notes',
      '--max-message-size',
    ]) {
      assert.ok(help.includes(flag), `help mentions ${flag}`);
    }
  });

  test('port 0 picks a free port and prints the chosen address', async () => {
    const core = await spawnCore();
    assert.match(core.address, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(core.address, '127.0.0.1:0');
    await core.stop();
  });

  test('a port already in use is a one-line error and a non-zero exit', async () => {
    const first = await spawnCore();
    const second = spawnTs('core-server/main.ts', ['--listen', first.address]);
    const { code } = await second.exited;
    await first.stop();
    assert.equal(code, 2);
    assert.deepEqual(second.lines, [
      `routeguide-core: cannot listen on ${first.address}: address already in use`,
    ]);
  });

  test('a malformed feature file is a startup error naming the file and the problem', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'db-')), 'bad.json');
    writeFileSync(file, '{"not":"an array"}');
    const proc = spawnTs('core-server/main.ts', ['--listen', '127.0.0.1:0', '--db', file]);
    const { code } = await proc.exited;
    assert.equal(code, 2);
    assert.equal(proc.lines.length, 1);
    assert.ok(proc.lines[0]?.includes(file));
    assert.match(proc.lines[0] ?? '', /expected array/);
  });

  test('bad configuration is a one-line error naming the flag', async () => {
    const proc = spawnTs('core-server/main.ts', ['--max-total-notes=-5']);
    const { code } = await proc.exited;
    assert.equal(code, 2);
    assert.match(proc.lines.join('\n'), /^routeguide-core: invalid --max-total-notes/);
  });

  test('SIGTERM lets an in-flight RouteChat finish within the grace period, then exits 0', async () => {
    const core = await spawnCore(['--shutdown-grace', '5s']);
    const client = new routeguide.RouteGuide(core.address, grpc.credentials.createInsecure());
    const call = client.RouteChat();
    const received: RouteNote__Output[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      call.on('data', (n: RouteNote__Output) => received.push(n));
      call.on('end', resolve);
      call.on('error', reject);
    });
    call.write({ location: { latitude: 1, longitude: 1 }, message: 'before' });
    await new Promise<void>((resolve) => call.once('data', () => resolve()));
    core.child.kill('SIGTERM');
    await core.waitForLog('shutting down');
    call.write({ location: { latitude: 1, longitude: 1 }, message: 'during' });
    call.end();
    await ended;
    assert.deepEqual(
      received.map((n) => n.message),
      ['before', 'before', 'during'],
    );
    const exit = await core.exited;
    assert.equal(exit.code, 0);
    client.close();
  });

  test('SIGTERM with a stream that never ends force-closes it after the grace period and exits 0', async () => {
    const core = await spawnCore(['--shutdown-grace', '300ms']);
    const client = new routeguide.RouteGuide(core.address, grpc.credentials.createInsecure());
    const call = client.RouteChat();
    const failed = new Promise<grpc.ServiceError>((resolve) => call.on('error', resolve));
    call.write({ location: { latitude: 1, longitude: 1 }, message: 'hang' });
    await new Promise<void>((resolve) => call.once('data', () => resolve()));
    const started = Date.now();
    core.child.kill('SIGTERM');
    const exit = await core.exited;
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - started < 5000);
    assert.ok([grpc.status.CANCELLED, grpc.status.UNAVAILABLE].includes((await failed).code));
    client.close();
  });
});
