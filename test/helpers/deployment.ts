/**
 * The scale-out deployment as real processes: Redis (AOF on), two cores on it, two gateways each
 * with `--core A,B`, and HAProxy (the committed deploy/haproxy.cfg, only its environment variables
 * set here) in front of both gateways. Every process gets a fixed ephemeral port, so a test can
 * restart any of them in place, as an operator restarts one service of a deployment.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROUTECHAT_PATH } from '../../protocol/index.js';
import { REPO_ROOT, type SpawnedProcess, spawnTs } from './core.js';
import { waitForHealth } from './core-calls.js';
import { freePort } from './gateway.js';
import { serverStatus } from './haproxy.js';
import { activeStreams, HEALTH_WATCH_METHOD, ROUTE_CHAT_METHOD } from './multi-core.js';
import { type RedisServer, removeDir, startRedis } from './redis.js';

const haproxyMissing = spawnSync('haproxy', ['-v']).error !== undefined;
const redisMissing = spawnSync('redis-server', ['--version']).error !== undefined;

/** Skipped loudly on a developer's machine without the tools; under CI=true a missing tool fails. */
export const deploymentSkip =
  (haproxyMissing || redisMissing) && process.env.CI !== 'true'
    ? 'SKIPPING: the deployment test needs haproxy and redis-server (Debian packages haproxy, redis-server)'
    : false;

/** One service of the deployment on a fixed port: started, stopped and started again in place. */
export interface ServiceSlot {
  readonly name: string;
  /** `127.0.0.1:PORT`, the same across restarts. */
  readonly address: string;
  /** The running process, if any. */
  readonly proc: SpawnedProcess | undefined;
  /** Starts the process; resolves with `Date.now()` once it listens. */
  start(): Promise<number>;
  /** Sends `signal` (default SIGTERM) and resolves once the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface CoreSlot extends ServiceSlot {
  /** The core's Prometheus endpoint of its current run (a new port on every start). */
  readonly metricsUrl: string;
  /** RouteChat streams open on this core right now. */
  routeChats(): Promise<number>;
  /** Health Watch streams open on this core right now: how the gateways follow it. */
  healthWatches(): Promise<number>;
}

export interface Deployment {
  /** `ws://127.0.0.1:PORT/v1/routechat` on HAProxy. */
  readonly url: string;
  readonly redis: RedisServer;
  readonly cores: readonly [CoreSlot, CoreSlot];
  readonly gateways: readonly [ServiceSlot, ServiceSlot];
  /** SIGKILL (with `appendfsync always` nothing confirmed is lost) or SIGTERM. */
  stopRedis(signal?: NodeJS.Signals): Promise<void>;
  /** Starts Redis again on the same port and AOF. */
  startRedis(): Promise<void>;
  /** HAProxy's check status of each gateway (`gateway1`: "UP", "DOWN", "UP 1/2"…). */
  gatewayStatus(): Promise<Record<string, string>>;
  /** Resolves once HAProxy reports every gateway with a status starting `prefix`. */
  waitForGateways(prefix: 'UP' | 'DOWN', timeoutMs?: number): Promise<void>;
  /**
   * Resolves once the gateways watch `core`'s health as much as they watch the other core's: it is
   * back in their rotation, so new streams go to it. Each gateway watches each core from its
   * readiness check and from every channel of its pool (a channel is opened by the first stream),
   * so the other core's count is the reference. A rolling restart waits for this before it takes
   * the next service down.
   */
  waitForCoreInRotation(core: CoreSlot, timeoutMs?: number): Promise<void>;
  /** Kills everything and removes the temp dirs. */
  stop(): Promise<void>;
}

export interface DeploymentOptions {
  /** `--redis-key-prefix` of both cores. */
  readonly keyPrefix?: string;
  /** Redis `appendfsync`. Default `always`: a confirmed note survives a kill of Redis. */
  readonly appendfsync?: 'always' | 'everysec';
}

function coreSlot(name: string, port: number, redisUrl: string, keyPrefix: string): CoreSlot {
  let proc: SpawnedProcess | undefined;
  let metricsUrl = '';
  const address = `127.0.0.1:${port}`;
  return {
    name,
    address,
    get proc() {
      return proc;
    },
    get metricsUrl() {
      return metricsUrl;
    },
    async start() {
      proc = spawnTs('core-server/main.ts', [
        '--listen',
        address,
        '--metrics-listen',
        '127.0.0.1:0',
        '--note-store',
        redisUrl,
        '--redis-key-prefix',
        keyPrefix,
        '--redis-command-timeout',
        '1s',
        '--shutdown-grace',
        '1s',
      ]);
      const line = await proc.waitForLog('core server listening', 30_000);
      metricsUrl = String(line.metrics);
      return Date.now();
    },
    stop: (signal) => proc?.stop(signal) ?? Promise.resolve({ code: null, signal: null }),
    routeChats: () => activeStreams(metricsUrl, ROUTE_CHAT_METHOD),
    healthWatches: () => activeStreams(metricsUrl, HEALTH_WATCH_METHOD),
  };
}

function gatewaySlot(name: string, port: number, cores: readonly CoreSlot[]): ServiceSlot {
  let proc: SpawnedProcess | undefined;
  const address = `127.0.0.1:${port}`;
  return {
    name,
    address,
    get proc() {
      return proc;
    },
    async start() {
      proc = spawnTs('gateway/main.ts', [
        '--listen',
        address,
        '--core',
        cores.map((core) => core.address).join(','),
        '--trust-proxy',
        '127.0.0.1',
        '--shutdown-grace',
        '2s',
      ]);
      await proc.waitForLog('gateway listening', 30_000);
      return Date.now();
    },
    stop: (signal) => proc?.stop(signal) ?? Promise.resolve({ code: null, signal: null }),
  };
}

/** Starts the whole deployment and resolves once HAProxy sees both gateways UP. */
export async function startDeployment(options: DeploymentOptions = {}): Promise<Deployment> {
  let redis = await startRedis({ appendfsync: options.appendfsync ?? 'always' });
  const { port: redisPort, dir: redisDir } = redis;
  const [corePortA, corePortB, gatewayPort1, gatewayPort2, haproxyPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const keyPrefix = options.keyPrefix ?? `scale-${process.pid}:`;
  const cores = [
    coreSlot('core A', corePortA as number, redis.url, keyPrefix),
    coreSlot('core B', corePortB as number, redis.url, keyPrefix),
  ] as const;
  const gateways = [
    gatewaySlot('gateway 1', gatewayPort1 as number, cores),
    gatewaySlot('gateway 2', gatewayPort2 as number, cores),
  ] as const;
  const dir = mkdtempSync(join(tmpdir(), 'deployment-'));
  const adminSocket = join(dir, 'admin.sock');
  let haproxy: ChildProcess | undefined;
  const haproxyOutput: string[] = [];

  const stop = async () => {
    if (haproxy && haproxy.exitCode === null && haproxy.signalCode === null) {
      haproxy.kill('SIGKILL');
      await once(haproxy, 'exit');
    }
    await Promise.all([...gateways, ...cores].map((slot) => slot.stop('SIGKILL')));
    await redis.stop('SIGKILL');
    removeDir(redis);
    rmSync(dir, { recursive: true, force: true });
  };

  const gatewayStatus = () => serverStatus(adminSocket);
  const waitForGateways = async (prefix: 'UP' | 'DOWN', timeoutMs = 15_000) => {
    const deadline = Date.now() + timeoutMs;
    let last: Record<string, string> = {};
    for (;;) {
      last = await gatewayStatus().catch(() => ({}));
      if (last.gateway1?.startsWith(prefix) && last.gateway2?.startsWith(prefix)) return;
      if (Date.now() > deadline || (haproxy && haproxy.exitCode !== null))
        throw new Error(
          `HAProxy did not mark both gateways ${prefix}: ${JSON.stringify(last)}\n${haproxyOutput.join('')}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  try {
    await Promise.all(cores.map((core) => core.start()));
    await Promise.all(cores.map((core) => waitForHealth(core.address, 'SERVING')));
    await Promise.all(gateways.map((gateway) => gateway.start()));
    haproxy = spawn('haproxy', ['-f', join(REPO_ROOT, 'deploy/haproxy.cfg'), '-db'], {
      env: {
        ...process.env,
        HAPROXY_BIND: `127.0.0.1:${haproxyPort}`,
        HAPROXY_ADMIN_SOCKET: adminSocket,
        HAPROXY_CHECK_INTER: '200ms',
        GATEWAY1: gateways[0].address,
        GATEWAY2: gateways[1].address,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    haproxy.on('error', () => {});
    haproxy.stdout?.on('data', (chunk) => haproxyOutput.push(String(chunk)));
    haproxy.stderr?.on('data', (chunk) => haproxyOutput.push(String(chunk)));
    await waitForGateways('UP');
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    url: `ws://127.0.0.1:${haproxyPort}${ROUTECHAT_PATH}`,
    get redis() {
      return redis;
    },
    cores,
    gateways,
    stopRedis: (signal = 'SIGKILL') => redis.stop(signal),
    async startRedis() {
      redis = await startRedis({
        port: redisPort,
        dir: redisDir,
        appendfsync: options.appendfsync ?? 'always',
      });
    },
    gatewayStatus,
    waitForGateways,
    async waitForCoreInRotation(core, timeoutMs = 15_000) {
      const other = cores.find((c) => c !== core) as CoreSlot;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [watches = 0, reference = 0] = await Promise.all(
          [core, other].map((c) => c.healthWatches().catch(() => 0)),
        );
        if (watches >= Math.max(reference, gateways.length)) return;
        if (Date.now() > deadline)
          throw new Error(`${core.name}: ${watches} health watches, the other core ${reference}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    stop,
  };
}
