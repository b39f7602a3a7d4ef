/**
 * The product under test as real processes (the compiled build in dist/), their CPU and memory from
 * /proc, and the forked load workers. Everything started here is stopped by `stopAll()`.
 */
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { WorkerJob, WorkerReply } from './ipc.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DIST = `${REPO_ROOT}dist/`;
export const PROTO_PATH = `${REPO_ROOT}proto/route_guide.proto`;

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const children = new Set<ChildProcess>();

export interface ProcessSample {
  /** User + system CPU time, ms (resolution 1000/CLK_TCK ms). */
  readonly cpuMs: number;
  readonly rssKiB: number;
  /** Peak RSS since the process started. */
  readonly hwmKiB: number;
}

export function sampleProcess(pid: number): ProcessSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "(comm)": state is [0], utime [11], stime [12].
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { cpuMs: (ticks * 1000) / CLK_TCK, rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The process and its children (a clustered gateway's workers), summed. */
export function sampleProcessTree(pid: number): ProcessSample {
  let total = sampleProcess(pid);
  for (const child of childPids(pid)) {
    try {
      const one = sampleProcess(child);
      total = {
        cpuMs: total.cpuMs + one.cpuMs,
        rssKiB: total.rssKiB + one.rssKiB,
        hwmKiB: total.hwmKiB + one.hwmKiB,
      };
    } catch {
      // The child exited between the listing and the read.
    }
  }
  return total;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`);
}

export interface ProductProcess {
  readonly pid: number;
  readonly address: string;
  readonly output: string[];
  sample(): ProcessSample;
  stop(): Promise<void>;
}

/**
 * `node dist/<entry> --listen 127.0.0.1:PORT --log-level warn ...`. The port is chosen here because
 * at warn level the "listening" line (info) is not printed; readiness is a TCP connect.
 */
export async function startProduct(
  entry: 'core-server/main.js' | 'gateway/main.js' | 'gateway/cluster.js' | 'bench/floor-relay.js',
  args: readonly string[],
  nodeArgs: readonly string[] = [],
  distDir: string = DIST,
  /** Added to the bench's own environment (e.g. OTEL_* to turn tracing on). */
  env: Readonly<Record<string, string>> = {},
): Promise<ProductProcess> {
  return startListening(
    entry,
    (address) => [
      process.execPath,
      [...nodeArgs, `${distDir}${entry}`, '--listen', address, '--log-level', 'warn', ...args],
    ],
    env,
  );
}

/**
 * The Go peer gateway (`peer-gw` of `../shared/tools/setup-peers.sh`) in front of `core`: its flags
 * are `--listen` and `--backend`.
 */
export function startPeerGateway(binary: string, core: string): Promise<ProductProcess> {
  return startListening('peer-gw', (address) => [binary, ['--listen', address, '--backend', core]]);
}

async function startListening(
  label: string,
  commandFor: (address: string) => [string, readonly string[]],
  env: Readonly<Record<string, string>> = {},
): Promise<ProductProcess> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const [command, argv] = commandFor(address);
  const child = spawn(command, argv, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  children.add(child);
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 50) output.shift();
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (error) => keep(Buffer.from(`${label}: ${error.message}\n`)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForPort(port, child, 15_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${label}: ${(error as Error).message}\n${output.join('')}`);
  }
  const pid = child.pid!;
  return {
    pid,
    address,
    output,
    sample: () => sampleProcessTree(pid),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      children.delete(child);
    },
  };
}

export interface LoadWorker {
  readonly pid: number;
  send(job: WorkerJob): void;
  /** The next reply of this type (replies of other types stay queued). */
  next<T extends WorkerReply['type']>(
    type: T,
    timeoutMs?: number,
  ): Promise<Extract<WorkerReply, { type: T }>>;
  stop(): Promise<void>;
}

export function forkWorker(): LoadWorker {
  const child = fork(`${DIST}bench/load-worker.js`, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  const queue: WorkerReply[] = [];
  const waiters: (() => void)[] = [];
  let failure: string | undefined;
  child.on('message', (message: WorkerReply) => {
    if (message.type === 'fatal') failure = message.message;
    else queue.push(message);
    for (const wake of waiters.splice(0)) wake();
  });
  child.on('exit', (code) => {
    failure ??= `load worker exited (${code})`;
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    pid: child.pid!,
    send: (job) => child.send(job),
    async next(type, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = queue.findIndex((m) => m.type === type);
        if (index >= 0) return queue.splice(index, 1)[0] as Extract<WorkerReply, { type: typeof type }>;
        if (failure) throw new Error(`load worker ${child.pid}: ${failure}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`load worker ${child.pid}: no "${type}" within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        if (child.connected) child.send({ type: 'exit' } satisfies WorkerJob);
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }
      children.delete(child);
    },
  };
}

/** Last resort (an exception, a signal): no process of ours outlives the run. */
/** Lets killAll() reach a process started elsewhere (the note-store bench's redis-server). */
export function track(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function killAll(): void {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  children.clear();
}
