/**
 * Redis for tests: real `redis-server` and `redis-sentinel` processes on ephemeral ports, each in a
 * temp dir of its own, never a shared or system instance. Every process is also killed when the
 * test process exits, so a failed test leaves none behind.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
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

/**
 * A stand-in for `redis-sentinel` that a test steers: it names `masterPort` as the master, can
 * hold master look-ups unanswered (`holdLookups`), and can announce `+switch-master` to the
 * clients subscribed to it. Enough of the protocol for ioredis's SentinelConnector and its
 * failover detector; a real sentinel cannot be made to answer late on cue.
 */
export interface FakeSentinel {
  readonly port: number;
  masterPort: number;
  /** While true, `SENTINEL get-master-addr-by-name` waits for `releaseLookups()`. */
  holdLookups: boolean;
  /** Look-ups waiting now. */
  readonly heldLookups: number;
  /** Connections subscribed now (ioredis's failover detectors: one per client). */
  readonly subscribed: number;
  releaseLookups(): void;
  /** Publishes `+switch-master` (from `masterPort` to `to`) to every subscriber. */
  announceSwitch(to: number): void;
  close(): Promise<void>;
}

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const array = (items: readonly string[]) => `*${items.length}\r\n${items.join('')}`;

/** Complete RESP commands (arrays of bulk strings, as clients send them) at the start of `buffer`. */
function parseCommands(buffer: Buffer): { commands: string[][]; rest: Buffer } {
  const commands: string[][] = [];
  let at = 0;
  const line = (from: number) => {
    const end = buffer.indexOf('\r\n', from);
    return end < 0 ? undefined : { text: buffer.toString('latin1', from, end), next: end + 2 };
  };
  for (;;) {
    const head = line(at);
    if (!head) break;
    const count = Number(head.text.slice(1));
    let pos = head.next;
    const args: string[] = [];
    for (let i = 0; i < count; i += 1) {
      const size = line(pos);
      if (!size) break;
      const len = Number(size.text.slice(1));
      if (buffer.length < size.next + len + 2) break;
      args.push(buffer.toString('utf8', size.next, size.next + len));
      pos = size.next + len + 2;
    }
    if (args.length < count) break;
    commands.push(args);
    at = pos;
  }
  return { commands, rest: buffer.subarray(at) };
}

export async function startFakeSentinel(masterName: string, masterPort: number): Promise<FakeSentinel> {
  const subscribers = new Set<Socket>();
  const sockets = new Set<Socket>();
  let held: (() => void)[] = [];
  const fake: FakeSentinel = {
    port: 0,
    masterPort,
    holdLookups: false,
    get heldLookups() {
      return held.length;
    },
    get subscribed() {
      return subscribers.size;
    },
    releaseLookups() {
      const waiting = held;
      held = [];
      for (const answer of waiting) answer();
    },
    announceSwitch(to) {
      const payload = `${masterName} 127.0.0.1 ${fake.masterPort} 127.0.0.1 ${to}`;
      fake.masterPort = to;
      for (const socket of subscribers)
        socket.write(array([bulk('message'), bulk('+switch-master'), bulk(payload)]));
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  const answer = (socket: Socket, [name = '', ...args]: string[]) => {
    const command = name.toLowerCase();
    const sub = (args[0] ?? '').toLowerCase();
    if (command === 'sentinel' && sub === 'get-master-addr-by-name') {
      // The port is read when the answer goes out, so a held look-up sees a switch made meanwhile.
      const reply = () => {
        if (!socket.destroyed)
          socket.write(
            args[1] === masterName ? array([bulk('127.0.0.1'), bulk(String(fake.masterPort))]) : '*-1\r\n',
          );
      };
      if (fake.holdLookups) held.push(reply);
      else reply();
    } else if (command === 'sentinel' && sub === 'sentinels') {
      socket.write('*0\r\n');
    } else if (command === 'subscribe') {
      subscribers.add(socket);
      for (const [i, channel] of args.entries())
        socket.write(array([bulk('subscribe'), bulk(channel), `:${i + 1}\r\n`]));
    } else if (command === 'ping') {
      socket.write('+PONG\r\n');
    } else if (command === 'client') {
      socket.write('+OK\r\n');
    } else {
      socket.write(`-ERR unknown command '${name}'\r\n`);
    }
  };
  const server = createNetServer((socket) => {
    sockets.add(socket);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      subscribers.delete(socket);
    });
    socket.on('data', (chunk: Buffer) => {
      const { commands, rest } = parseCommands(Buffer.concat([pending, chunk]));
      pending = rest;
      for (const command of commands) answer(socket, command);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(fake, { port: (server.address() as AddressInfo).port });
}
