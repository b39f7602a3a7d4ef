/**
 * The thin adapter from one ws socket to a connection machine (v1's or v2's): the only place, with
 * the two plugins that call it, that touches ws objects. Both protocols get the same socket view
 * (write coalescing), the same event wiring, the same fault guard and the same guarded calls.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { CallOpener, ConnectionSocket } from './session/ports.js';

/** The raw TCP (or TLS) socket under ws: corked for coalescing, its 'drain' is when the client caught up. */
export interface RawSocket {
  cork(): void;
  uncork(): void;
  on(event: 'drain', listener: () => void): unknown;
  off(event: 'drain', listener: () => void): unknown;
}

/**
 * The machine's view of the socket, with the frames sent in one event-loop turn coalesced into one
 * write: ws writes each frame with its own writev(2), and on a busy relay that syscall was ~43% of
 * the gateway's CPU (bench/results/profile.md). Corked until setImmediate (not nextTick: grpc-js
 * delivers the messages of one HTTP/2 read over several ticks), a burst becomes one syscall; an idle
 * connection pays nothing. Measured: +15% notes/s, -11% CPU per note (bench/proposals/README.md).
 */
export function coalescingSocket(socket: WebSocket, raw: RawSocket | null): ConnectionSocket {
  let corked = false;
  const uncork = () => {
    corked = false;
    raw?.uncork();
  };
  return {
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    send(text) {
      if (!corked && raw) {
        corked = true;
        raw.cork();
        setImmediate(uncork);
      }
      socket.send(text);
    },
    close(code, reason) {
      socket.close(code, reason);
      // The status and close frames go out now: a shutdown may terminate the socket before setImmediate.
      if (corked) uncork();
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
  };
}

/**
 * `handler` wrapped so that a bug in the machine costs one connection (`fail()`: status INTERNAL,
 * close 1011), never the process.
 */
export const createGuard =
  (log: FastifyBaseLogger, what: string, fail: () => void) =>
  <A extends unknown[]>(handler: (...args: A) => void) =>
  (...args: A) => {
    try {
      handler(...args);
    } catch (error) {
      log.error({ err: error }, what);
      fail();
    }
  };

/** What a connection machine takes from its socket. */
export interface SocketEvents {
  onClientText(text: string): void;
  onClientBinary(): void;
  /** The client closed, or the connection failed: the machine has no client any more. */
  onClientGone(): void;
  onSocketDrain(): void;
  /** The close handshake finished (before `onClientGone`), with the client's close code. */
  onClientClosed?(code: number): void;
}

export type Guard = ReturnType<typeof createGuard>;

/**
 * `upstream` with every call event through `guard`. A status's hidden detail (what the transport
 * said, kept from the client by core-status.ts) is logged here, under the connection's request id.
 */
export function guardedCalls(upstream: CallOpener, guard: Guard, log: FastifyBaseLogger): CallOpener {
  return {
    open: (method, metadata, options, handlers) =>
      upstream.open(method, metadata, options, {
        onMessage: guard(handlers.onMessage),
        onReadEnd: guard(handlers.onReadEnd),
        onStatus: guard((status, hiddenDetail) => {
          if (hiddenDetail !== undefined)
            log.warn({ method: method.name, status: status.name, detail: hiddenDetail }, 'core call failed');
          handlers.onStatus(status);
        }),
        onDrain: guard(handlers.onDrain),
      }),
  };
}

/**
 * Wires ws's events to `events`, each through `guard`; `session.alive` is set by pongs. Returns the
 * function that detaches what was attached to the raw socket (call it when the connection finishes).
 */
export function listenToSocket(
  socket: WebSocket,
  raw: RawSocket | null,
  events: SocketEvents,
  session: { alive: boolean },
  guard: Guard,
  log: FastifyBaseLogger,
): () => void {
  const onSocketDrain = guard(() => events.onSocketDrain());
  // ws writes to this socket; its 'drain' is when the client has caught up.
  raw?.on('drain', onSocketDrain);
  socket.on(
    'message',
    guard((data: Buffer, isBinary: boolean) => {
      if (isBinary) events.onClientBinary();
      else events.onClientText(data.toString());
    }),
  );
  socket.on('pong', () => {
    session.alive = true;
  });
  socket.on('error', (error) => {
    // ws has sent its close frame (or the connection is gone): the calls have no client any more.
    log.debug({ err: error }, 'socket error');
    events.onClientGone();
  });
  socket.on('close', (code) => {
    events.onClientClosed?.(code);
    events.onClientGone();
  });
  return () => raw?.off('drain', onSocketDrain);
}
