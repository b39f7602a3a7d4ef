/**
 * The note store's cost: the same direct-gRPC load on a core with `--note-store memory` and on one
 * with `--note-store redis://…` (a redis-server started here, AOF on, `appendfsync everysec`),
 * alternating within each round. Closed loop for notes/s and CPU per note (core and redis-server),
 * then open loop at half of the Redis core's peak for the latency Redis adds.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import type { BenchConfig } from './config.js';
import { type LoadResult, runLoad } from './load.js';
import {
  freePort,
  type LoadWorker,
  type ProcessSample,
  sampleProcess,
  startProduct,
  track,
} from './processes.js';
import { round, type Spread, spread } from './stats.js';
import { takeLatitudes } from './throughput.js';

export interface StorePath {
  readonly notesPerSec: Spread;
  readonly coreCpuUsPerNote: Spread;
  readonly p50MsAtHalf: Spread;
  readonly p99MsAtHalf: Spread;
  readonly errors: number;
  /** redis-server's own CPU per note (Redis path only). */
  readonly redisCpuUsPerNote?: Spread;
}

export interface NoteStoreResult {
  readonly rateNotesPerSec: number;
  readonly memory: StorePath;
  readonly redis: StorePath;
  readonly throughputRatio: number;
  readonly addedCoreCpuUsPerNote: number;
  readonly addedP50Ms: number;
  readonly addedP99Ms: number;
}

interface BenchRedis {
  readonly url: string;
  sample(): ProcessSample;
  stop(): Promise<void>;
}

async function startRedis(): Promise<BenchRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''];
  const child: ChildProcess = spawn('redis-server', [...args, '--appendonly', 'yes'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', () => reject(new Error(`redis-server exited:\n${output}`)));
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    sample: () => sampleProcess(child.pid!),
    async stop() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves once the core's gRPC health says SERVING (a Redis core starts NOT_SERVING). */
async function waitServing(address: string): Promise<void> {
  const pkg = grpc.loadPackageDefinition(
    protoLoader.loadSync(healthProtoPath, { enums: String }),
  ) as unknown as {
    grpc: { health: { v1: { Health: typeof grpc.Client } } };
  };
  const client = new pkg.grpc.health.v1.Health(address, grpc.credentials.createInsecure()) as grpc.Client & {
    Check(
      r: { service: string },
      cb: (e: grpc.ServiceError | null, reply?: { status: string }) => void,
    ): void;
  };
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const status = await new Promise<string>((resolve) =>
        client.Check({ service: '' }, (error, reply) => resolve(error ? 'error' : String(reply?.status))),
      );
      if (status === 'SERVING') return;
      if (Date.now() > deadline) throw new Error(`core ${address} not SERVING (${status})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    client.close();
  }
}

function summarize(peak: readonly LoadResult[], half: readonly LoadResult[]): StorePath {
  const redisCpu = peak.map((r) => r.sidecarCpuUsPerNote).filter((v): v is number => v !== undefined);
  return {
    notesPerSec: spread(peak.map((r) => r.notesPerSec)),
    coreCpuUsPerNote: spread(peak.map((r) => r.coreCpuUsPerNote)),
    p50MsAtHalf: spread(half.map((r) => r.latency.p50Ms)),
    p99MsAtHalf: spread(half.map((r) => r.latency.p99Ms)),
    errors: [...peak, ...half].reduce((sum, r) => sum + r.errors, 0),
    ...(redisCpu.length ? { redisCpuUsPerNote: spread(redisCpu) } : {}),
  };
}

export async function measureNoteStore(
  config: BenchConfig,
  workers: readonly LoadWorker[],
  log: (line: string) => void,
): Promise<NoteStoreResult> {
  const redis = await startRedis();
  const memoryCore = await startProduct('core-server/main.js', ['--metrics-listen', 'off']);
  const redisCore = await startProduct('core-server/main.js', [
    '--metrics-listen',
    'off',
    '--note-store',
    redis.url,
    '--redis-key-prefix',
    'bench:',
  ]);
  try {
    await waitServing(redisCore.address);
    const paths = [
      { name: 'memory', core: memoryCore },
      { name: 'redis', core: redisCore, sidecar: redis },
    ] as const;
    const run = (path: (typeof paths)[number], load: { window: number } | { rate: number }) =>
      runLoad({
        workers,
        transport: 'grpc',
        target: path.core.address,
        connections: config.connections,
        ...load,
        warmupMs: config.warmupMs,
        measureMs: config.measureMs,
        messageBytes: config.messageBytes,
        latBase: takeLatitudes(workers.length * 100_000),
        core: path.core,
        ...('sidecar' in path ? { sidecar: path.sidecar } : {}),
      });
    const peak: Record<'memory' | 'redis', LoadResult[]> = { memory: [], redis: [] };
    const half: Record<'memory' | 'redis', LoadResult[]> = { memory: [], redis: [] };
    for (let i = 0; i < config.rounds; i += 1) {
      for (const path of i % 2 === 0 ? paths : [...paths].reverse()) {
        const result = await run(path, { window: config.window });
        peak[path.name].push(result);
        log(
          `  round ${i + 1} ${path.name}: ${result.notesPerSec} notes/s, p99 ${result.latency.p99Ms} ms, core ${result.coreCpuUsPerNote} µs CPU/note` +
            (result.sidecarCpuUsPerNote !== undefined
              ? `, redis-server ${result.sidecarCpuUsPerNote} µs CPU/note`
              : ''),
        );
      }
    }
    const rate = Math.round(spread(peak.redis.map((r) => r.notesPerSec)).median / 2);
    log(`  half of the Redis core's peak: ${rate} notes/s on both`);
    for (let i = 0; i < config.rounds; i += 1) {
      for (const path of i % 2 === 0 ? paths : [...paths].reverse()) {
        const result = await run(path, { rate });
        half[path.name].push(result);
        log(
          `  round ${i + 1} ${path.name} at ${rate}/s: p50 ${result.latency.p50Ms} ms, p99 ${result.latency.p99Ms} ms`,
        );
      }
    }
    const memory = summarize(peak.memory, half.memory);
    const onRedis = summarize(peak.redis, half.redis);
    return {
      rateNotesPerSec: rate,
      memory,
      redis: onRedis,
      throughputRatio: round(onRedis.notesPerSec.median / (memory.notesPerSec.median || 1), 3),
      addedCoreCpuUsPerNote: round(onRedis.coreCpuUsPerNote.median - memory.coreCpuUsPerNote.median),
      addedP50Ms: round(onRedis.p50MsAtHalf.median - memory.p50MsAtHalf.median),
      addedP99Ms: round(onRedis.p99MsAtHalf.median - memory.p99MsAtHalf.median),
    };
  } finally {
    await redisCore.stop();
    await memoryCore.stop();
    await redis.stop();
  }
}
