import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type Point, type RouteSummary__Output, routeguide } from '../../proto/index.js';
import { type SpawnedProcess, spawnCore, spawnTs } from '../helpers/core.js';
import { freePort } from '../helpers/gateway.js';
import { sample } from '../helpers/prometheus.js';

/** A port held by another listener for the length of a test. */
async function occupyPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

async function isListening(port: number): Promise<boolean> {
  const socket = connect(port, '127.0.0.1');
  try {
    await once(socket, 'connect');
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

/** Resolves once the core counts one RecordRoute in progress (the call has reached it). */
async function recordRouteOpen(metricsUrl: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const text = await (await fetch(metricsUrl)).text();
    const open = sample(text, 'routeguide_core_active_streams', {
      method: '/routeguide.RouteGuide/RecordRoute',
    });
    if (open === 1) return;
    if (Date.now() > deadline) throw new Error('RecordRoute never reached the core');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The process's exit, or a failure naming what it printed if it is still running after `ms`. */
async function exitWithin(proc: SpawnedProcess, ms: number): Promise<{ code: number | null }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      proc.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`still running after ${ms} ms; output:\n${proc.lines.join('\n')}`)),
          ms,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

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

  test('a metrics port already in use is a one-line error, exit 2, and leaves the gRPC port closed', async () => {
    const taken = await occupyPort();
    const grpcPort = await freePort();
    const proc = spawnTs('core-server/main.ts', [
      '--listen',
      `127.0.0.1:${grpcPort}`,
      '--metrics-listen',
      `127.0.0.1:${taken.port}`,
    ]);
    try {
      const { code } = await exitWithin(proc, 20_000);
      assert.equal(code, 2);
      assert.deepEqual(proc.lines, [
        `routeguide-core: cannot serve metrics on 127.0.0.1:${taken.port}: address already in use`,
      ]);
      assert.equal(await isListening(grpcPort), false, 'nothing listens on the gRPC port');
    } finally {
      await proc.stop('SIGKILL');
      taken.server.close();
    }
  });

  test('npm start with the core metrics port in use exits 2 with one line and leaves nothing listening', async () => {
    const taken = await occupyPort();
    const grpcPort = await freePort();
    const gatewayPort = await freePort();
    const proc = spawnTs('scripts/start.ts', [], {
      CORE_LISTEN: `127.0.0.1:${grpcPort}`,
      CORE_METRICS_LISTEN: `127.0.0.1:${taken.port}`,
      GATEWAY_LISTEN: `127.0.0.1:${gatewayPort}`,
    });
    try {
      const { code } = await exitWithin(proc, 20_000);
      assert.equal(code, 2);
      assert.deepEqual(proc.lines, [
        `routeguide: cannot serve metrics on 127.0.0.1:${taken.port}: address already in use`,
      ]);
      assert.equal(await isListening(grpcPort), false, 'nothing listens on the gRPC port');
      assert.equal(await isListening(gatewayPort), false, 'nothing listens on the gateway port');
    } finally {
      await proc.stop('SIGKILL');
      taken.server.close();
    }
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

  test('50 concurrent RouteChat streams print no warning (one drain listener per stream is expected)', async () => {
    const core = await spawnCore();
    const client = new routeguide.RouteGuide(core.address, grpc.credentials.createInsecure());
    try {
      const calls = Array.from({ length: 50 }, (_, i) => {
        const call = client.RouteChat();
        call.on('error', () => {});
        const answered = once(call, 'data');
        call.write({ location: { latitude: i, longitude: i }, message: `stream ${i}` });
        return { call, answered };
      });
      // Every stream is open (each answered its note) at the same time.
      await Promise.all(calls.map((c) => c.answered));
      for (const { call } of calls) call.end();
      await Promise.all(calls.map(({ call }) => once(call, 'status')));
      const warnings = core.lines.filter((line) => /Warning/.test(line));
      assert.deepEqual(warnings, []);
    } finally {
      client.close();
      await core.stop('SIGKILL');
    }
  });

  test('SIGTERM lets an in-flight RecordRoute finish within the grace period, then exits 0', async () => {
    // RouteChat streams are ended by the drain (test/core-server/drain.test.ts); a client stream
    // with an end in sight gets the grace period to finish.
    const core = await spawnCore(['--shutdown-grace', '5s']);
    const client = new routeguide.RouteGuide(core.address, grpc.credentials.createInsecure());
    try {
      let call: grpc.ClientWritableStream<Point> | undefined;
      const summary = new Promise<RouteSummary__Output>((resolve, reject) => {
        call = client.RecordRoute((error, reply) => (error || !reply ? reject(error) : resolve(reply)));
      });
      call?.write({ latitude: 1, longitude: 1 });
      await recordRouteOpen(core.metricsUrl);
      core.child.kill('SIGTERM');
      await core.waitForLog('shutting down');
      call?.write({ latitude: 2, longitude: 2 });
      call?.end();
      assert.equal((await summary).point_count, 2);
      assert.equal((await core.exited).code, 0);
    } finally {
      client.close();
      await core.stop('SIGKILL');
    }
  });

  test('SIGTERM with a call that never ends cancels it after the grace period and exits 0', async () => {
    const core = await spawnCore(['--shutdown-grace', '300ms']);
    const client = new routeguide.RouteGuide(core.address, grpc.credentials.createInsecure());
    try {
      const failed = new Promise<grpc.ServiceError>((resolve) => {
        const call = client.RecordRoute((error) => resolve(error as grpc.ServiceError));
        call.write({ latitude: 1, longitude: 1 });
      });
      await recordRouteOpen(core.metricsUrl);
      const started = Date.now();
      core.child.kill('SIGTERM');
      await core.waitForLog(/grace period over/);
      const exit = await core.exited;
      assert.equal(exit.code, 0);
      assert.ok(Date.now() - started < 5000);
      assert.ok([grpc.status.CANCELLED, grpc.status.UNAVAILABLE].includes((await failed).code));
    } finally {
      client.close();
      await core.stop('SIGKILL');
    }
  });
});
