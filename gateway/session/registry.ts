/**
 * The live connections of one gateway: heartbeat over all of them with one timer, and the graceful
 * drain on shutdown. Knows connections and sockets only through the small interface below.
 */
import type { ConnectionMachine } from './ports.js';

/** What the registry needs of a connection, v1's or v2's. */
export type SessionControl = Pick<
  ConnectionMachine,
  | 'lastActivity'
  | 'readingPaused'
  | 'beginShutdown'
  | 'forceShutdown'
  | 'closeForTimeout'
  | 'endStreamsOpenedBefore'
>;

export interface Session {
  readonly connection: SessionControl;
  /** The client's address, for the per-address connection cap. */
  readonly ip: string;
  /** Set by a pong; cleared at each heartbeat tick. */
  alive: boolean;
  ping(): void;
  /** Drops the TCP connection at once (no close handshake). */
  terminate(): void;
  /** Bytes queued to this client and not yet written to its TCP socket (ws's `bufferedAmount`). */
  readonly bufferedAmount: number;
}

/** What is queued towards clients: the output bound (`--socket-high-water-mark`) made visible. */
export interface ClientBacklog {
  /** Over every socket. */
  readonly bytes: number;
  /** The most queued for one socket: stays within the mark plus the frame that crossed it. */
  readonly largest: number;
}

export interface SessionRegistry {
  readonly size: number;
  readonly closing: boolean;
  add(session: Session): void;
  delete(session: Session): void;
  /** Open sessions from this client address. */
  countFor(ip: string): number;
  /** Read at each metrics scrape, never per frame. */
  backlog(): ClientBacklog;
  /**
   * Ends connections idle for `idleMs` and streams older than `lifetimeMs` (0 disables either), with
   * status DEADLINE_EXCEEDED. One sweep over all sessions replaces a timer per connection or stream.
   */
  sweep(nowMs: number, idleMs: number, lifetimeMs: number): void;
  /** One heartbeat tick: drop peers that did not answer the previous ping, ping the rest. */
  heartbeat(): void;
  /**
   * Starts the registry's timers: the heartbeat every `heartbeatMs`, and one sweep for the idle and
   * lifetime limits (0 disables any). Returns what stops them.
   */
  startTimers(periods: TimerPeriods): () => void;
  /**
   * Half-closes every call and waits for their statuses; after `graceMs` cancels the rest
   * (status UNAVAILABLE, close 1001). Resolves when every session has finished.
   */
  drain(graceMs: number): Promise<void>;
}

export interface TimerPeriods {
  readonly heartbeatMs: number;
  readonly idleMs: number;
  readonly lifetimeMs: number;
}

export function createSessionRegistry(): SessionRegistry {
  const sessions = new Set<Session>();
  const perAddress = new Map<string, number>();
  let closing = false;
  let onEmpty: (() => void) | undefined;

  return {
    get size() {
      return sessions.size;
    },
    get closing() {
      return closing;
    },
    add(session) {
      sessions.add(session);
      perAddress.set(session.ip, (perAddress.get(session.ip) ?? 0) + 1);
    },
    delete(session) {
      if (!sessions.delete(session)) return;
      const left = (perAddress.get(session.ip) ?? 1) - 1;
      if (left > 0) perAddress.set(session.ip, left);
      else perAddress.delete(session.ip);
      if (sessions.size === 0) onEmpty?.();
    },
    countFor: (ip) => perAddress.get(ip) ?? 0,
    backlog() {
      let bytes = 0;
      let largest = 0;
      for (const session of sessions) {
        const queued = session.bufferedAmount;
        bytes += queued;
        if (queued > largest) largest = queued;
      }
      return { bytes, largest };
    },
    sweep(now, idleMs, lifetimeMs) {
      for (const session of [...sessions]) {
        if (idleMs > 0 && now - session.connection.lastActivity > idleMs) {
          session.connection.closeForTimeout(`no frame either way for ${Math.round(idleMs / 1000)} s`);
        } else if (lifetimeMs > 0) {
          session.connection.endStreamsOpenedBefore(
            now - lifetimeMs,
            `stream lifetime limit of ${Math.round(lifetimeMs / 1000)} s reached`,
          );
        }
      }
    },
    heartbeat() {
      for (const session of sessions) {
        // While the gateway itself is not reading a socket (the core is slow, or the client is over
        // its rate), its pong cannot be read either: that peer is not dead, so it is not judged.
        if (!session.alive && !session.connection.readingPaused) {
          // terminate() makes ws emit 'close', which cancels the calls through the connection.
          session.terminate();
          continue;
        }
        session.alive = false;
        session.ping();
      }
    },
    startTimers({ heartbeatMs, idleMs, lifetimeMs }) {
      const timers: NodeJS.Timeout[] = [];
      if (heartbeatMs > 0) timers.push(setInterval(() => this.heartbeat(), heartbeatMs));
      if (idleMs > 0 || lifetimeMs > 0) {
        // One sweep for every connection instead of a timer per connection or stream; resolution ≤ 1 s.
        const period = Math.max(
          50,
          Math.min(1000, Math.floor(Math.min(...[idleMs, lifetimeMs].filter((v) => v > 0)) / 4)),
        );
        timers.push(setInterval(() => this.sweep(performance.now(), idleMs, lifetimeMs), period));
      }
      for (const timer of timers) timer.unref();
      return () => {
        for (const timer of timers) clearInterval(timer);
      };
    },
    async drain(graceMs) {
      closing = true;
      if (sessions.size === 0) return;
      const empty = new Promise<void>((resolve) => {
        onEmpty = resolve;
      });
      for (const session of sessions) session.connection.beginShutdown();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const outcome = await Promise.race([empty, timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') for (const session of [...sessions]) session.connection.forceShutdown();
    },
  };
}
