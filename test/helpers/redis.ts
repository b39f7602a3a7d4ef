/**
 * Redis for tests: real `redis-server` and `redis-sentinel` processes on ephemeral ports, each in a
 * temp dir of its own, never a shared or system instance. Every process is also killed when the
 * test process exits, so a failed test leaves none behind.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from './gateway.js';

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface RedisProcess {
  readonly port: number;
  readonly dir: string;
  readonly child: ChildProcess;
  readonly lines: string[];
  /** Resolves with the first output line matching `pattern` (also one printed before the call). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Runs `redis-cli -p PORT ARGS…` and resolves with its output, trimmed. */
  cli(...args: string[]): Promise<string>;
  /** SIGSTOP / SIGCONT: a stalled server that keeps its connections open. */
  pause(): void;
  resume(): void;
  /** SIGTERM (Redis fsyncs its AOF and exits) or another signal; resolves once it has exited. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface RedisServer extends RedisProcess {
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
}

function spawnRedisProcess(
  command: string,
  args: readonly string[],
  port: number,
  dir: string,
): RedisProcess {
  const child = spawn(command, [...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const lines: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  const onLine = (line: string) => {
    lines.push(line);
    for (const waiter of waiters) {
      if (waiter.pattern.test(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  child.on('error', () => {});
  const exited = once(child, 'exit').then(() => {
    live.delete(child);
  });
  return {
    port,
    dir,
    child,
    lines,
    waitForLog(pattern, timeoutMs = 10_000) {
      const seen = lines.find((line) => pattern.test(line));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const waiter = {
          pattern,
          resolve: (line: string) => {
            clearTimeout(timer);
            resolve(line);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(
            new Error(`${command} :${port}: no log ${pattern} in ${timeoutMs} ms:\n${lines.join('\n')}`),
          );
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then(() => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`${command} :${port} exited before logging ${pattern}:\n${lines.join('\n')}`));
        });
      });
    },
    cli: (...cliArgs) =>
      new Promise((resolve, reject) => {
        execFile('redis-cli', ['-p', String(port), ...cliArgs], { timeout: 10_000 }, (error, stdout) =>
          error ? reject(error) : resolve(stdout.trim()),
        );
      }),
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT');
        child.kill(signal);
      }
      await exited;
    },
  };
}

export interface RedisServerOptions {
  /** Default: a free port. Pass the old one to restart a server in place. */
  readonly port?: number;
  /** Default: a new temp dir. Pass the old one to restart on the same AOF. */
  readonly dir?: string;
  /** `--appendfsync`: `always` makes every acknowledged write durable. Default `everysec`. */
  readonly appendfsync?: 'always' | 'everysec' | 'no';
  /** Port of a primary on 127.0.0.1 to replicate. */
  readonly replicaOf?: number;
  readonly extraArgs?: readonly string[];
}

/** `redis-server --port P --dir TMP --save '' --appendonly yes`, resolved once it accepts connections. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    options.appendfsync ?? 'everysec',
    // A new replica's first sync would otherwise wait 5 s for more replicas to join it.
    '--repl-diskless-sync-delay',
    '0',
    ...(options.replicaOf ? ['--replicaof', '127.0.0.1', String(options.replicaOf)] : []),
    ...(options.extraArgs ?? []),
  ];
  const proc = spawnRedisProcess('redis-server', args, port, dir);
  await proc.waitForLog(/Ready to accept connections/);
  return Object.assign(proc, { url: `redis://127.0.0.1:${port}` });
}

export interface SentinelOptions {
  readonly primaryPort: number;
  readonly masterName?: string;
  readonly quorum?: number;
  /** `down-after-milliseconds`: how long the primary must be silent to be judged down. */
  readonly downAfterMs?: number;
  readonly failoverTimeoutMs?: number;
}

/** `redis-sentinel` watching a primary on 127.0.0.1, with its own config file in a temp dir. */
export async function startSentinel(options: SentinelOptions): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-'));
  const name = options.masterName ?? 'notes';
  const config = join(dir, 'sentinel.conf');
  writeFileSync(
    config,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${options.primaryPort} ${options.quorum ?? 1}`,
      `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
      `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 5000}`,
      `sentinel parallel-syncs ${name} 1`,
      '',
    ].join('\n'),
  );
  const proc = spawnRedisProcess('redis-sentinel', [config], port, dir);
  await proc.waitForLog(/\+monitor master/);
  return proc;
}

/** Removes a process's temp dir once it has stopped. */
export function removeDir(proc: Pick<RedisProcess, 'dir'>): void {
  rmSync(proc.dir, { recursive: true, force: true });
}
