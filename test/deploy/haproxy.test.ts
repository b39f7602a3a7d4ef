/**
 * Several gateways behind a real load balancer: HAProxy, configured by the committed
 * deploy/haproxy.cfg (only its environment variables are set here), in front of two gateway
 * processes that share one core. The gateways keep no state a client must find again, so sockets
 * land on both, a note through one is history through the other, and a gateway that gets SIGTERM
 * is left by its clients (1001) for the other without failed reconnects.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROUTECHAT_PATH } from '../../protocol/index.js';
import { REPO_ROOT, type RunningCore, type SpawnedProcess, spawnTs, startCore } from '../helpers/core.js';
import { connect, freePort, type TestClient, until } from '../helpers/gateway.js';
import { serverStatus } from '../helpers/haproxy.js';

const haproxyMissing = spawnSync('haproxy', ['-v']).error !== undefined;
/** Skipped loudly on a developer's machine without haproxy; under CI=true a missing haproxy fails. */
const skip =
  haproxyMissing && process.env.CI !== 'true'
    ? 'SKIPPING the HAProxy deployment test: haproxy (Debian package haproxy) is not installed'
    : false;

type GatewayProcess = SpawnedProcess & { address: string };

async function spawnGateway(core: string): Promise<GatewayProcess> {
  const proc = spawnTs('gateway/main.ts', [
    '--listen',
    '127.0.0.1:0',
    '--core',
    core,
    '--trust-proxy',
    '127.0.0.1',
    '--shutdown-grace',
    '5s',
  ]);
  const line = await proc.waitForLog('gateway listening');
  return Object.assign(proc, { address: String(line.address) });
}

describe('two gateway processes behind HAProxy (deploy/haproxy.cfg)', { skip }, () => {
  let core: RunningCore;
  let gateways: GatewayProcess[] = [];
  let haproxy: ChildProcess | undefined;
  const haproxyOutput: string[] = [];
  let dir: string;
  let adminSocket: string;
  let url: string;
  const clients: TestClient[] = [];
  let nextId = 0;

  /** A socket through HAProxy, and the gateway it landed on (found by its x-request-id). */
  async function openThroughProxy(): Promise<{ client: TestClient; gateway: number }> {
    const id = `haproxy-test-${process.pid}-${nextId++}`;
    const client = connect(url, { headers: { 'x-request-id': id } });
    clients.push(client);
    await client.opened;
    let gateway = -1;
    await until(
      () => {
        gateway = gateways.findIndex((g) =>
          g.lines.some((line) => line.includes(id) && line.includes('connection opened')),
        );
        return gateway >= 0;
      },
      10_000,
      `the log line of ${id}`,
    );
    return { client, gateway };
  }

  before(async () => {
    if (haproxyMissing) assert.fail('haproxy is required in CI (Debian package haproxy)');
    core = await startCore();
    gateways = await Promise.all([spawnGateway(core.address), spawnGateway(core.address)]);
    dir = mkdtempSync(join(tmpdir(), 'haproxy-test-'));
    adminSocket = join(dir, 'admin.sock');
    const port = await freePort();
    url = `ws://127.0.0.1:${port}${ROUTECHAT_PATH}`;
    haproxy = spawn('haproxy', ['-f', join(REPO_ROOT, 'deploy/haproxy.cfg'), '-db'], {
      env: {
        ...process.env,
        HAPROXY_BIND: `127.0.0.1:${port}`,
        HAPROXY_ADMIN_SOCKET: adminSocket,
        HAPROXY_CHECK_INTER: '200ms',
        GATEWAY1: gateways[0]?.address,
        GATEWAY2: gateways[1]?.address,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    haproxy.on('error', () => {});
    haproxy.stdout?.on('data', (chunk) => haproxyOutput.push(String(chunk)));
    haproxy.stderr?.on('data', (chunk) => haproxyOutput.push(String(chunk)));
    const deadline = Date.now() + 15_000;
    for (;;) {
      const status = await serverStatus(adminSocket).catch(() => ({}) as Record<string, string>);
      if (status.gateway1 === 'UP' && status.gateway2 === 'UP') break;
      if (Date.now() > deadline || haproxy.exitCode !== null)
        throw new Error(`HAProxy did not mark both gateways UP: ${haproxyOutput.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  after(async () => {
    for (const client of clients) client.ws.terminate();
    if (haproxy && haproxy.exitCode === null) {
      haproxy.kill('SIGKILL');
      await once(haproxy, 'exit');
    }
    await Promise.all(gateways.map((g) => g.stop('SIGKILL')));
    await core?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('sockets through HAProxy land on both gateways', async () => {
    const landed = new Set<number>();
    for (let i = 0; i < 4; i += 1) landed.add((await openThroughProxy()).gateway);
    assert.deepEqual([...landed].sort(), [0, 1]);
  });

  test('a note through one gateway is history through the other (one core, no gateway state)', async () => {
    const opened: { client: TestClient; gateway: number }[] = [];
    while (!(opened.some((o) => o.gateway === 0) && opened.some((o) => o.gateway === 1)))
      opened.push(await openThroughProxy());
    const viaFirst = opened.find((o) => o.gateway === 0)?.client as TestClient;
    const viaSecond = opened.find((o) => o.gateway === 1)?.client as TestClient;
    const location = { latitude: 555, longitude: 777 };
    viaSecond.send({ location, message: 'through gateway 2' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    viaFirst.send({ location, message: 'through gateway 1' });
    const frames = await viaFirst.waitForFrames(1, 10_000);
    assert.deepEqual(frames[0], { location, message: 'through gateway 2' });
  });

  test('SIGTERM: its clients get 1001, reconnects land on the other gateway, HAProxy marks it down', async () => {
    const mine: TestClient[] = [];
    while (mine.length < 2) {
      const { client, gateway } = await openThroughProxy();
      if (gateway === 0) mine.push(client);
    }
    const leaving = gateways[0] as GatewayProcess;
    leaving.child.kill('SIGTERM');
    for (const client of mine) assert.equal((await client.closed).code, 1001);
    // Reconnect at once, as a client library does: HAProxy may not have seen the failed check yet.
    for (let i = 0; i < 3; i += 1) assert.equal((await openThroughProxy()).gateway, 1);
    const exit = await leaving.exited;
    assert.equal(exit.code, 0);
    const deadline = Date.now() + 10_000;
    let status = await serverStatus(adminSocket);
    while (!status.gateway1?.startsWith('DOWN') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = await serverStatus(adminSocket);
    }
    assert.match(status.gateway1 ?? '', /^DOWN/);
    assert.equal(status.gateway2, 'UP');
  });
});
