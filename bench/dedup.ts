/**
 * What idempotent notes cost the Redis note store: the same appends with and without a producer
 * session (`append` vs `appendOnce`), and resends answered from the records, straight against the
 * store (no gRPC, no gateway: only the store's work is measured). A redis-server is started here
 * (AOF on, `appendfsync everysec`, like the note-store bench); each round starts on an empty
 * database, every note at a place of its own (so the reply is one note either way), the three
 * variants alternating. CPU per note: this process (ioredis, the digest, the loop) and
 * redis-server (the script), from /proc. Then the memory one record takes in Redis.
 *
 *   npm run bench:dedup [-- --notes 30000 --rounds 5 --in-flight 32 --sessions 256]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createRedisNoteStore,
  DEFAULT_NOTE_DEDUP,
  DEFAULT_NOTE_LIMITS,
  type NoteStore,
  type StoredNote,
} from '../core-server/notes/index.js';
import { freePort, sampleProcess, track } from './processes.js';
import { round, spread } from './stats.js';

const { values: args } = parseArgs({
  options: {
    notes: { type: 'string', default: '30000' },
    rounds: { type: 'string', default: '5' },
    'in-flight': { type: 'string', default: '32' },
    sessions: { type: 'string', default: '256' },
  },
});
const NOTES = Number(args.notes);
const ROUNDS = Number(args.rounds);
const IN_FLIGHT = Number(args['in-flight']);
const SESSIONS = Number(args.sessions);
// A resend is answered from the records only while the session still holds them.
if (NOTES / SESSIONS > DEFAULT_NOTE_DEDUP.window)
  throw new Error(`more than ${DEFAULT_NOTE_DEDUP.window} notes per session: raise --sessions`);
const MESSAGE = 'm'.repeat(64);

interface RedisProcess {
  readonly port: number;
  readonly child: ChildProcess;
  cli(...command: string[]): Promise<string>;
  stop(): Promise<void>;
}

async function startRedis(): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-dedup-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  track(child);
  child.on('error', () => {});
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', () => reject(new Error(`redis-server exited:\n${output}`)));
  });
  const cli = (...command: string[]) =>
    new Promise<string>((resolve, reject) => {
      const run = spawn('redis-cli', ['-p', String(port), ...command]);
      let out = '';
      run.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      run.on('error', reject);
      run.on('exit', () => resolve(out.trim()));
    });
  return {
    port,
    child,
    cli,
    async stop() {
      child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

type Variant = 'append' | 'appendOnce' | 'resend';

/** Runs `NOTES` appends, `IN_FLIGHT` at a time; returns CPU µs per note of this process and of Redis. */
async function runVariant(store: NoteStore, redis: RedisProcess, variant: Variant) {
  const noteAt = (i: number): StoredNote => ({
    location: { latitude: 1 + (i % 80_000), longitude: 1 + Math.floor(i / 80_000) },
    message: MESSAGE,
  });
  const idOf = (i: number) => ({
    session: `bench-session-${i % SESSIONS}`,
    sequence: Math.floor(i / SESSIONS),
  });
  let next = 0;
  let duplicates = 0;
  const worker = async () => {
    while (next < NOTES) {
      const i = next++;
      if (variant === 'append') await store.append(noteAt(i));
      else if ((await store.appendOnce(noteAt(i), idOf(i))).duplicate) duplicates += 1;
    }
  };
  await redis.cli('CONFIG', 'RESETSTAT');
  const redisBefore = sampleProcess(redis.child.pid!).cpuMs;
  const ownBefore = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const ms = performance.now() - started;
  const own = process.cpuUsage(ownBefore);
  const redisMs = sampleProcess(redis.child.pid!).cpuMs - redisBefore;
  if (duplicates !== (variant === 'resend' ? NOTES : 0))
    throw new Error(`${variant}: ${duplicates} duplicates`);
  // Redis's own timing of the script (EVALSHA), less exposed to a busy host than process CPU.
  const stats = await redis.cli('INFO', 'commandstats');
  const scriptUs = Number(
    /cmdstat_evalsha:calls=\d+,usec=\d+,usec_per_call=([\d.]+)/.exec(stats)?.[1] ?? Number.NaN,
  );
  return {
    notesPerSec: Math.round((NOTES * 1000) / ms),
    nodeUs: round((own.user + own.system) / NOTES, 2),
    redisUs: round((redisMs * 1000) / NOTES, 2),
    scriptUs: round(scriptUs, 2),
  };
}

async function openStore(port: number, keyPrefix: string): Promise<NoteStore> {
  const store = createRedisNoteStore({
    spec: { kind: 'redis', address: { host: '127.0.0.1', port }, tls: false, db: 0 },
    limits: { ...DEFAULT_NOTE_LIMITS, maxTotalNotes: Math.max(DEFAULT_NOTE_LIMITS.maxTotalNotes, NOTES) },
    keyPrefix,
    commandTimeoutMs: 5000,
  });
  await new Promise<void>((resolve) => {
    const stop = store.watchAvailability((up) => {
      if (up) {
        queueMicrotask(() => stop());
        resolve();
      }
    });
  });
  return store;
}

/** Bytes Redis holds per record: a session hash at the full window, and one of a short session. */
async function recordBytes(
  redis: RedisProcess,
): Promise<{ fullWindow: number; shortSession: number; encoding: string }> {
  await redis.cli('FLUSHALL');
  const store = await openStore(redis.port, 'mem:');
  const note = (i: number): StoredNote => ({ location: { latitude: 1, longitude: i }, message: MESSAGE });
  const window = DEFAULT_NOTE_DEDUP.window;
  for (let i = 0; i < window + 100; i += 1)
    await store.appendOnce(note(i), { session: 'full-window', sequence: i });
  for (let i = 0; i < 20; i += 1) await store.appendOnce(note(i), { session: 'short-session', sequence: i });
  await store.close();
  const bytes = async (session: string, records: number) =>
    round(Number(await redis.cli('MEMORY', 'USAGE', `mem:dedup:${session}`, 'SAMPLES', '0')) / records, 1);
  return {
    fullWindow: await bytes('full-window', window),
    shortSession: await bytes('short-session', 20),
    encoding: await redis.cli('OBJECT', 'ENCODING', 'mem:dedup:full-window'),
  };
}

const redis = await startRedis();
try {
  type Result = Awaited<ReturnType<typeof runVariant>>;
  const results: Record<Variant, Result[]> = {
    append: [],
    appendOnce: [],
    resend: [],
  };
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(
    `${cpus()[0]?.model ?? 'unknown CPU'}; ${NOTES} notes per run, ${IN_FLIGHT} in flight, ${SESSIONS} sessions`,
  );
  for (let r = 0; r < ROUNDS; r += 1) {
    await redis.cli('FLUSHALL');
    const store = await openStore(redis.port, `round${r}:`);
    // appendOnce's records must exist for the resend run: it always follows appendOnce.
    const order: Variant[][] =
      r % 2 === 0 ? [['append'], ['appendOnce', 'resend']] : [['appendOnce', 'resend'], ['append']];
    for (const group of order) {
      for (const variant of group) {
        // Each variant on its own key prefix' worth of notes: the plain run has no records to skip.
        const result = await runVariant(store, redis, variant);
        results[variant].push(result);
        log(
          `  round ${r + 1} ${variant.padEnd(10)} ${result.notesPerSec} notes/s, node ${result.nodeUs} µs/note, redis-server ${result.redisUs} µs/note, script ${result.scriptUs} µs`,
        );
      }
      await redis.cli('FLUSHALL');
    }
    await store.close();
  }
  type Key = Exclude<keyof Result, 'notesPerSec'> | 'notesPerSec';
  const median = (variant: Variant, key: Key) => spread(results[variant].map((result) => result[key])).median;
  // Paired within each round (the same minute of a shared host): the median of the differences.
  const added = (variant: Variant, key: Key) =>
    round(
      spread(results[variant].map((result, i) => result[key] - (results.append[i]?.[key] ?? 0))).median,
      2,
    );
  log('\nmedians:');
  for (const variant of ['append', 'appendOnce', 'resend'] as const)
    log(
      `  ${variant.padEnd(10)} ${median(variant, 'notesPerSec')} notes/s, node ${median(variant, 'nodeUs')} µs/note, redis-server ${median(variant, 'redisUs')} µs/note, script ${median(variant, 'scriptUs')} µs`,
    );
  for (const variant of ['appendOnce', 'resend'] as const)
    log(
      `  ${variant} minus append, paired per round: node ${added(variant, 'nodeUs')} µs/note, redis-server ${added(variant, 'redisUs')} µs/note, script ${added(variant, 'scriptUs')} µs`,
    );
  const memory = await recordBytes(redis);
  log(
    `\nRedis memory per record: ${memory.fullWindow} B in a session hash at the full window (${DEFAULT_NOTE_DEDUP.window}, a ${memory.encoding}), ${memory.shortSession} B in a 20-note session`,
  );
} finally {
  await redis.stop();
}
