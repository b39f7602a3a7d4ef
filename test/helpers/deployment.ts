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
import {
  type RedisProcess,
  type RedisServer,
  type RedisServerOptions,
  removeDir,
  startRedis,
  startSentinel,
} from './redis.js';

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
  /** Every process this slot started, the current one last: their logs and exits outlive a restart. */
  readonly runs: readonly SpawnedProcess[];
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

/** One Redis server of the deployment on a fixed port and AOF dir: stopped and started in place. */
export interface RedisSlot {
  readonly name: string;
  readonly port: number;
  /** The current process (the last one started). */
  readonly server: RedisServer;
  /** Every process this slot started, the current one last. */
  readonly runs: readonly RedisServer[];
  start(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface Deployment {
  /** `ws://127.0.0.1:PORT/v1/routechat` on HAProxy. */
  readonly url: string;
  /** The primary Redis as started (with Sentinel, a failover may have made another one primary). */
  readonly redis: RedisServer;
  /** The Redis servers: the primary, then (with Sentinel) its replicas. */
  readonly redisSlots: readonly RedisSlot[];
  /** HAProxy's process (never restarted), for its exit and output. */
  readonly haproxy: { readonly exited: boolean; readonly output: readonly string[] };
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
  /**
   * Redis under Sentinel: a primary, two replicas and three sentinels; the cores find the primary
   * through the sentinels and WAIT for one replica after each append (`--redis-wait-replicas 1`).
   */
  readonly sentinel?: boolean;
}

function coreSlot(
  name: string,
  port: number,
  noteStore: () => string,
  keyPrefix: string,
  storeArgs: readonly string[],
): CoreSlot {
  let proc: SpawnedProcess | undefined;
  const runs: SpawnedProcess[] = [];
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
    runs,
    async start() {
      proc = spawnTs('core-server/main.ts', [
        '--listen',
        address,
        '--metrics-listen',
        '127.0.0.1:0',
        '--note-store',
        noteStore(),
        '--redis-key-prefix',
        keyPrefix,
        ...storeArgs,
        '--redis-command-timeout',
        '1s',
        '--shutdown-grace',
        '1s',
      ]);
      runs.push(proc);
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
  const runs: SpawnedProcess[] = [];
  const address = `127.0.0.1:${port}`;
  return {
    name,
    address,
    get proc() {
      return proc;
    },
    runs,
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
      runs.push(proc);
      await proc.waitForLog('gateway listening', 30_000);
      return Date.now();
    },
    stop: (signal) => proc?.stop(signal) ?? Promise.resolve({ code: null, signal: null }),
  };
}

/** A Redis server restarted in place: same port, same AOF dir, same role it was started with. */
function redisSlot(name: string, first: RedisServer, options: RedisServerOptions): RedisSlot {
  const runs: RedisServer[] = [first];
  return {
    name,
    port: first.port,
    get server() {
      return runs[runs.length - 1] as RedisServer;
    },
    runs,
    async start() {
      runs.push(await startRedis({ ...options, port: first.port, dir: first.dir }));
    },
    stop: (signal = 'SIGKILL') => (runs[runs.length - 1] as RedisServer).stop(signal),
  };
}

const SENTINEL_MASTER = 'notes';

/** Starts the whole deployment and resolves once HAProxy sees both gateways UP. */
export async function startDeployment(options: DeploymentOptions = {}): Promise<Deployment> {
  const appendfsync = options.appendfsync ?? 'always';
  const primary = await startRedis({ appendfsync });
  const redisSlots: RedisSlot[] = [redisSlot('redis', primary, { appendfsync })];
  const sentinels: RedisProcess[] = [];
  let noteStore = () => primary.url;
  let storeArgs: string[] = [];
  if (options.sentinel) {
    redisSlots[0] = redisSlot('redis primary', primary, { appendfsync });
    for (const n of [1, 2]) {
      const replicaOptions = { appendfsync, replicaOf: primary.port } as const;
      const replica = await startRedis(replicaOptions);
      await replica.waitForLog(/MASTER <-> REPLICA sync: Finished with success/, 20_000);
      redisSlots.push(redisSlot(`redis replica ${n}`, replica, replicaOptions));
    }
    for (const _ of [1, 2, 3])
      sentinels.push(
        await startSentinel({ primaryPort: primary.port, masterName: SENTINEL_MASTER, quorum: 2 }),
      );
    await waitForSentinels(sentinels, redisSlots.length - 1);
    const hosts = sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(',');
    noteStore = () => `redis-sentinel://${hosts}/${SENTINEL_MASTER}`;
    storeArgs = ['--redis-wait-replicas', '1'];
  }
  const [corePortA, corePortB, gatewayPort1, gatewayPort2, haproxyPort] = await Promise.all(
    Array.from({ length: 5 }, () => freePort()),
  );
  const keyPrefix = options.keyPrefix ?? `scale-${process.pid}:`;
  const cores = [
    coreSlot('core A', corePortA as number, noteStore, keyPrefix, storeArgs),
    coreSlot('core B', corePortB as number, noteStore, keyPrefix, storeArgs),
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
    for (const proc of [...sentinels, ...redisSlots.map((slot) => slot.server)]) {
      await proc.stop('SIGKILL');
      removeDir(proc);
    }
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
      return (redisSlots[0] as RedisSlot).server;
    },
    redisSlots,
    haproxy: {
      get exited() {
        return haproxy === undefined || haproxy.exitCode !== null || haproxy.signalCode !== null;
      },
      output: haproxyOutput,
    },
    cores,
    gateways,
    stopRedis: (signal = 'SIGKILL') => (redisSlots[0] as RedisSlot).stop(signal),
    startRedis: () => (redisSlots[0] as RedisSlot).start(),
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

/** Resolves once every sentinel knows the other sentinels and `replicas` replicas: a failover can happen. */
async function waitForSentinels(sentinels: readonly RedisProcess[], replicas: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const views = await Promise.all(
      sentinels.map(async (sentinel) => {
        const lines = (await sentinel.cli('SENTINEL', 'MASTER', SENTINEL_MASTER)).split('\n');
        const view = new Map<string, string>();
        for (let i = 0; i + 1 < lines.length; i += 2) view.set(lines[i] as string, lines[i + 1] as string);
        return view;
      }),
    );
    if (
      views.every(
        (view) =>
          Number(view.get('num-other-sentinels')) >= sentinels.length - 1 &&
          Number(view.get('num-slaves')) >= replicas,
      )
    )
      return;
    if (Date.now() > deadline) throw new Error('the sentinels did not find each other and the replicas');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
