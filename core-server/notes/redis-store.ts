/**
 * Notes in Redis, shared by every core that points at the same Redis and key prefix: one world,
 * one order. Each append is one Lua script (see redis-append-script.ts), so two cores answering
 * notes at the same place at the same time give every client a prefix of the place's final list.
 *
 * Failure handling is the point of this module:
 * - No queue while disconnected (`enableOfflineQueue: false`): an append fails at once with
 *   `not-stored` instead of waiting for a Redis that may never come back.
 * - No resend after a reconnect (`maxRetriesPerRequest: 0`, `autoResendUnfulfilledCommands: false`):
 *   a script that may have run is never run twice; its caller gets `unknown`.
 * - Every command is bounded by `commandTimeoutMs` (a stalled Redis → `unknown` after that time).
 * - A probe (HMGET of the totals, every `probeIntervalMs`) tells a stalled Redis from a live one:
 *   while it fails the store reports unavailable, and appends fail fast with `not-stored` without
 *   reaching Redis; the probe also refreshes `stats()`.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { locationKey } from '../geo.js';
import { encodeLiveNote, liveNotesChannel } from './live-note-wire.js';
import {
  type AppendOnceResult,
  DEFAULT_NOTE_DEDUP,
  type NoteDedupOptions,
  type NoteId,
  NoteSequenceConflictError,
  noteDigest,
} from './note-dedup.js';
import {
  type NoteOutcome,
  type NoteStore,
  NoteStoreError,
  type NoteStoreLimits,
  type NoteStoreStats,
  type StoredNote,
} from './note-store.js';
import { APPEND_NOTE_LUA } from './redis-append-script.js';
import { closeRedisClient, reviveOnUnexpectedEnd } from './redis-revive.js';
import { describeNoteStoreSpec, type NoteStoreSpec } from './store-spec.js';

export type RedisStoreSpec = Extract<NoteStoreSpec, { kind: 'redis' | 'redis-sentinel' }>;

export interface RedisNoteStoreOptions {
  readonly spec: RedisStoreSpec;
  readonly limits: NoteStoreLimits;
  /** Every key starts with it, so several deployments can share one Redis. */
  readonly keyPrefix: string;
  /** Longest wait for any one Redis command (the append script, WAIT, the probe). */
  readonly commandTimeoutMs: number;
  /**
   * After each append, WAIT for this many replicas to acknowledge it (0: don't). With 1 or more, a
   * confirmed note survives the primary's loss (a Sentinel failover); a note not acknowledged in
   * time is reported `unknown`.
   */
  readonly waitReplicas?: number;
  readonly probeIntervalMs?: number;
  /** The (session, sequence) records of `appendOnce`: their TTL and window (maxRecords is memory's). */
  readonly dedup?: NoteDedupOptions;
  readonly logger?: Logger | undefined;
}

type ScriptOutcome = 'stored' | 'duplicate' | 'conflict';
type ScriptReply = [[number, number, number], string[], ScriptOutcome];

/** The script's arguments after the keys (see redis-append-script.ts). */
type AppendArgs = [
  message: string,
  id: string,
  maxPer: number,
  maxTotal: number,
  maxBytes: number,
  locPrefix: string,
  liveChannel: string,
  liveNote: string,
];

/** One script, two commands: KEYS decides whether the note has an id (ARGV starts after KEYS either way). */
interface AppendCommands {
  appendNote(
    loc: string,
    order: string,
    stats: string,
    seq: string,
    ...args: AppendArgs
  ): Promise<ScriptReply>;
  appendNoteOnce(
    loc: string,
    order: string,
    stats: string,
    seq: string,
    session: string,
    ...args: [...AppendArgs, sequence: string, digest: string, ttlMs: number, forget: string]
  ): Promise<ScriptReply>;
}

/** Errors that prove Redis never ran the command: it was refused before being sent, or by Redis. */
function scriptOutcome(error: unknown): NoteOutcome {
  if (!(error instanceof Error)) return 'unknown';
  // A reply error is Redis refusing the script as a whole (OOM, READONLY, BUSY, LOADING, WRONGTYPE
  // checked before any write): the script is written so that it never fails after its first write.
  if (error.name === 'ReplyError') return 'not-stored';
  if (/isn't writeable and enableOfflineQueue/.test(error.message)) return 'not-stored';
  // Timed out, or the connection dropped after the script was sent: it may have run.
  return 'unknown';
}

/**
 * The failure as a reader should see it. ioredis rejects the commands in flight when their
 * connection closes with MaxRetriesPerRequestError ("Reached the max retries per request limit
 * (which is 0)"): with `maxRetriesPerRequest: 0` that only ever means the connection dropped (Redis
 * died, or a failover cut it) after the script was sent, so say that, and that it may have run.
 */
export function describeScriptError(error: unknown): string {
  if (error instanceof Error && error.name === 'MaxRetriesPerRequestError')
    return 'the connection to Redis dropped with the script in flight (it may have run; it is not resent)';
  return error instanceof Error ? error.message : String(error);
}

// ioredis types `replyMapping` loosely for exactOptionalPropertyTypes; we keep its default.
type ClientOptions = Omit<RedisOptions, 'replyMapping'>;

/** How to reach the store's Redis (host or sentinels, credentials, TLS, db, fail-fast settings). */
export function redisClientOptions(
  options: Pick<RedisNoteStoreOptions, 'spec' | 'commandTimeoutMs'>,
): ClientOptions {
  const { spec, commandTimeoutMs } = options;
  const common: ClientOptions = {
    ...(spec.username ? { username: spec.username } : {}),
    ...(spec.password ? { password: spec.password } : {}),
    db: spec.db,
    connectionName: 'routeguide-core',
    commandTimeout: commandTimeoutMs,
    connectTimeout: Math.max(commandTimeoutMs, 1000),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // Keep trying for as long as the core runs: it serves again by itself when Redis is back.
    retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
    // A primary demoted by a failover answers READONLY: reconnect, which asks the sentinels anew.
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
  };
  if (spec.kind === 'redis') {
    return {
      ...common,
      host: spec.address.host,
      port: spec.address.port,
      // Node checks the certificate against the host; a private CA goes in NODE_EXTRA_CA_CERTS.
      ...(spec.tls ? { tls: {} } : {}),
    };
  }
  return {
    ...common,
    sentinels: spec.sentinels.map(({ host, port }) => ({ host, port })),
    name: spec.masterName,
    sentinelCommandTimeout: commandTimeoutMs,
    sentinelRetryStrategy: (attempt) => Math.min(100 * attempt, 1000),
    // Learn of a failover from the sentinels' +switch-master instead of only from a dead socket.
    failoverDetector: true,
  };
}

export function createRedisNoteStore(options: RedisNoteStoreOptions): NoteStore {
  const { limits, keyPrefix, commandTimeoutMs, logger } = options;
  const waitReplicas = options.waitReplicas ?? 0;
  const probeIntervalMs = options.probeIntervalMs ?? 1000;
  const dedup = options.dedup ?? DEFAULT_NOTE_DEDUP;
  const keys = {
    order: `${keyPrefix}order`,
    stats: `${keyPrefix}stats`,
    seq: `${keyPrefix}seq`,
    locPrefix: `${keyPrefix}loc:`,
    dedupPrefix: `${keyPrefix}dedup:`,
    liveChannel: liveNotesChannel(keyPrefix),
  };
  const client = new Redis(redisClientOptions(options));
  client.defineCommand('appendNote', { numberOfKeys: 4, lua: APPEND_NOTE_LUA });
  client.defineCommand('appendNoteOnce', { numberOfKeys: 5, lua: APPEND_NOTE_LUA });
  const redis = client as Redis & AppendCommands;
  const where = describeNoteStoreSpec(options.spec);

  let stats: NoteStoreStats = { notes: 0, locations: 0, bytes: 0 };
  let connected = false;
  let probeOk = true;
  let lastError: string | undefined;
  let available = false;
  let closed = false;
  const listeners = new Set<(available: boolean) => void>();

  // One warning per outage (also for one that starts with the core), not one per reconnect attempt.
  let warned = false;
  const warnDown = () => {
    if (warned || closed) return;
    warned = true;
    logger?.warn({ store: where, error: lastError }, 'note store unavailable');
  };
  const update = () => {
    const now = !closed && connected && probeOk;
    if (now === available) return;
    available = now;
    if (now) {
      warned = false;
      logger?.info({ store: where }, 'note store available');
    } else {
      warnDown();
    }
    for (const listener of listeners) listener(now);
  };
  const setStats = ([notes, bytes, locations]: readonly unknown[]) => {
    stats = { notes: Number(notes) || 0, bytes: Number(bytes) || 0, locations: Number(locations) || 0 };
  };

  let probing = false;
  const probe = async () => {
    if (probing || closed || !connected) return;
    probing = true;
    try {
      setStats(await client.hmget(keys.stats, 'notes', 'bytes', 'locations'));
      probeOk = true;
    } catch (error) {
      lastError = (error as Error).message;
      probeOk = false;
    } finally {
      probing = false;
      update();
    }
  };
  const probeTimer = setInterval(() => void probe(), probeIntervalMs);
  probeTimer.unref();

  // Without an 'error' listener, ioredis's connection errors would crash the process.
  client.on('error', (error: Error) => {
    lastError = error.message;
    if (!available) warnDown();
  });
  client.on('ready', () => {
    connected = true;
    probeOk = true;
    update();
    void probe();
  });
  const down = () => {
    connected = false;
    update();
  };
  client.on('close', down);
  client.on('end', down);
  client.on('reconnecting', down);
  reviveOnUnexpectedEnd(client, { closed: () => closed, delayMs: 100, logger, name: 'note-store' });

  /** Runs the script (with `id`: once per id), then WAIT when asked; every failure a NoteStoreError. */
  const run = async (note: StoredNote, id?: NoteId): Promise<ScriptReply> => {
    if (closed) throw new NoteStoreError('not-stored', 'note store closed');
    if (!available) {
      throw new NoteStoreError('not-stored', `note store unavailable: ${lastError ?? 'not connected'}`);
    }
    const place = locationKey(note.location);
    const args: AppendArgs = [
      note.message,
      place,
      limits.maxNotesPerLocation,
      limits.maxTotalNotes,
      limits.maxTotalBytes,
      keys.locPrefix,
      keys.liveChannel,
      encodeLiveNote(note),
    ];
    let reply: ScriptReply;
    try {
      reply = id
        ? await redis.appendNoteOnce(
            keys.locPrefix + place,
            keys.order,
            keys.stats,
            keys.seq,
            keys.dedupPrefix + id.session,
            ...args,
            String(id.sequence),
            noteDigest(note),
            dedup.ttlMs,
            id.sequence >= dedup.window ? String(id.sequence - dedup.window) : '',
          )
        : await redis.appendNote(keys.locPrefix + place, keys.order, keys.stats, keys.seq, ...args);
    } catch (error) {
      const outcome = scriptOutcome(error);
      lastError = describeScriptError(error);
      if (outcome === 'unknown') {
        // A timeout says Redis is stalled: stop sending until the probe sees it answer again.
        probeOk = false;
        update();
      }
      throw new NoteStoreError(outcome, `note store failed: ${lastError}`);
    }
    setStats(reply[0]);
    if (reply[2] === 'conflict') return reply;
    if (waitReplicas > 0) {
      // Also after a resend: its first copy may be the one whose WAIT fell short.
      // WAIT's own timeout stays below the command timeout, so it answers instead of timing out.
      let acked = 0;
      try {
        acked = Number(await client.wait(waitReplicas, Math.max(1, Math.floor(commandTimeoutMs * 0.75))));
      } catch (error) {
        lastError = (error as Error).message;
      }
      if (acked < waitReplicas) {
        throw new NoteStoreError(
          'unknown',
          `note stored on the primary but acknowledged by ${acked} of ${waitReplicas} replicas`,
        );
      }
    }
    return reply;
  };

  const toNotes = (note: StoredNote, entries: readonly string[]): StoredNote[] => {
    const location = { latitude: note.location.latitude, longitude: note.location.longitude };
    return entries.map((entry) => ({ location, message: entry.slice(entry.indexOf(':') + 1) }));
  };

  return {
    async append(note) {
      return toNotes(note, (await run(note))[1]);
    },
    async appendOnce(note, id): Promise<AppendOnceResult> {
      const [, entries, outcome] = await run(note, id);
      if (outcome === 'conflict') throw new NoteSequenceConflictError(id);
      return { notes: toNotes(note, entries), duplicate: outcome === 'duplicate' };
    },
    stats: () => stats,
    watchAvailability(listener) {
      listeners.add(listener);
      listener(available);
      return () => listeners.delete(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(probeTimer);
      update();
      listeners.clear();
      await closeRedisClient(client);
    },
  };
}
