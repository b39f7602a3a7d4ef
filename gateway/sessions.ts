/**
 * The live connections of one gateway: heartbeat over all of them with one timer, and the graceful
 * drain on shutdown. Knows relays and sockets only through the small interface below.
 */
import type { Relay } from './relay.js';

export interface Session {
  readonly relay: Relay;
  /** Set by a pong; cleared at each heartbeat tick. */
  alive: boolean;
  ping(): void;
  /** Drops the TCP connection at once (no close handshake). */
  terminate(): void;
}

export interface SessionRegistry {
  readonly size: number;
  readonly closing: boolean;
  add(session: Session): void;
  delete(session: Session): void;
  /** One heartbeat tick: drop peers that did not answer the previous ping, ping the rest. */
  heartbeat(): void;
  /**
   * Half-closes every call and waits for their statuses; after `graceMs` cancels the rest
   * (status UNAVAILABLE, close 1001). Resolves when every session has finished.
   */
  drain(graceMs: number): Promise<void>;
}

export function createSessionRegistry(): SessionRegistry {
  const sessions = new Set<Session>();
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
    },
    delete(session) {
      sessions.delete(session);
      if (sessions.size === 0) onEmpty?.();
    },
    heartbeat() {
      for (const session of sessions) {
        if (!session.alive) {
          // terminate() makes ws emit 'close', which cancels the call through the relay.
          session.terminate();
          continue;
        }
        session.alive = false;
        session.ping();
      }
    },
    async drain(graceMs) {
      closing = true;
      if (sessions.size === 0) return;
      const empty = new Promise<void>((resolve) => {
        onEmpty = resolve;
      });
      for (const session of sessions) session.relay.beginShutdown();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const outcome = await Promise.race([empty, timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') for (const session of [...sessions]) session.relay.forceShutdown();
    },
  };
}
