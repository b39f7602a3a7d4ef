/**
 * The thin adapter from one ws socket to a connection machine (v1's or v2's): the only place, with
 * the two plugins that call it, that touches ws objects. Both protocols get the same socket view
 * (write coalescing), the same event wiring, the same fault guard and the same guarded calls.
 */
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { StatusCode } from '../../protocol/common/index.js';
import { type TraceLogFields, traceLogFields } from '../observe/trace-log.js';
import type { ConnectionMachine, ConnectionSocket } from '../session/ports.js';
import type { Session, SessionRegistry } from '../session/registry.js';
import type { CallOpener } from '../upstream/calls.js';
import { describeCores, noCoreReason } from '../upstream/core-diagnosis.js';

/** How long the cores are asked why a call found none serving, before the warning is written. */
const DIAGNOSIS_TIMEOUT_MS = 1000;

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
type SocketEvents = Pick<
  ConnectionMachine,
  'state' | 'onClientText' | 'onClientBinary' | 'onClientGone' | 'onSocketDrain'
>;

export type Guard = ReturnType<typeof createGuard>;

/**
 * `upstream` with every call event through `guard`. A status's hidden detail (what the transport
 * said, kept from the client by core-status.ts) is logged here, under the connection's request id
 * and, when the call carries a traceparent, its trace_id and span_id (so `log` must carry none).
 */
export function guardedCalls(upstream: CallOpener, guard: Guard, log: FastifyBaseLogger): CallOpener {
  /** `trace`: the failed call's trace_id and span_id, when it carries a traceparent. */
  const logFailure = (
    method: string,
    code: StatusCode,
    status: string,
    detail: string,
    trace: TraceLogFields | undefined,
  ) => {
    const fields = { method, status, detail, ...trace };
    // A deadline the client chose is its own business: a client setting tiny ones must not flood the log.
    if (code === StatusCode.DEADLINE_EXCEEDED) return log.debug(fields, 'core call failed');
    if (code !== StatusCode.UNAVAILABLE || !upstream.diagnoseCores)
      return log.warn(fields, 'core call failed');
    // grpc-js words "no core ready" after one of them ("Picked subchannel … is unhealthy"): when
    // none serves, the log says so, and why, from the cores themselves.
    upstream.diagnoseCores(DIAGNOSIS_TIMEOUT_MS).then(
      (cores) => {
        if (cores.some((core) => core.condition.kind === 'serving')) log.warn(fields, 'core call failed');
        else log.warn({ ...fields, reason: noCoreReason(cores) }, describeCores(cores));
      },
      (error: unknown) => log.warn({ ...fields, err: error }, 'core call failed'),
    );
  };
  return {
    open: (method, metadata, options, handlers) =>
      // `handlers` may be a class instance (session/stream.ts): its methods are called on it.
      upstream.open(method, metadata, options, {
        onMessage: guard((bytes: Uint8Array) => handlers.onMessage(bytes)),
        onReadEnd: guard(() => handlers.onReadEnd()),
        onStatus: guard((status, hiddenDetail) => {
          if (hiddenDetail !== undefined)
            logFailure(method.name, status.code, status.name, hiddenDetail, traceLogFields(metadata));
          handlers.onStatus(status);
        }),
        onDrain: guard(() => handlers.onDrain()),
        ...(handlers.onHeaders
          ? { onHeaders: guard((headers: Record<string, string>) => handlers.onHeaders?.(headers)) }
          : {}),
      }),
  };
}

/** What a plugin's machine gets from `acceptSocket`. */
export interface AcceptedSocket {
  /** The socket, with write coalescing. */
  readonly socket: ConnectionSocket;
  /** Wraps a handler so that a bug in it costs this connection (`fail()`), never the process. */
  readonly guard: Guard;
  /**
   * Call once, when the machine has finished: the session is forgotten (caps, heartbeat, drain)
   * and the socket's listeners detached. Returns how long the connection lived, in ms.
   */
  finished(): number;
}

/**
 * One accepted WebSocket, for either protocol: the machine built by `build` over the coalescing
 * socket, its events wired (each through the fault guard), and its session registered for the caps,
 * the heartbeat, the sweeps and the drain. Synchronous: no frame can arrive before the listeners.
 */
export function acceptSocket<M extends ConnectionMachine>(
  socket: WebSocket,
  request: FastifyRequest,
  sessions: SessionRegistry,
  log: FastifyBaseLogger,
  build: (accepted: AcceptedSocket) => M,
): M {
  const openedAt = performance.now();
  const raw = request.raw.socket as RawSocket | null;
  let machine: M | undefined;
  let session: Session | undefined;
  let detach: (() => void) | undefined;
  const guard = createGuard(log, 'connection fault', () => machine?.fail());
  machine = build({
    socket: coalescingSocket(socket, raw),
    guard,
    finished() {
      if (session) sessions.delete(session);
      detach?.();
      return Math.round(performance.now() - openedAt);
    },
  });
  const live = machine;
  session = {
    connection: live,
    ip: request.ip,
    alive: true,
    ping: () => socket.ping(),
    terminate: () => socket.terminate(),
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
  };
  if (live.state !== 'closed') {
    detach = listenToSocket(socket, raw, live, session, guard, log);
    sessions.add(session);
  }
  return live;
}

/**
 * Wires ws's events to `machine`, each through `guard`; `session.alive` is set by pongs. Returns the
 * function that detaches what was attached to the raw socket (call it when the connection finishes).
 */
function listenToSocket(
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
      if (isBinary) events.onClientBinary(data);
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
    if (events.state !== 'closed') log.debug({ code }, 'client closed before the gateway did');
    events.onClientGone();
  });
  return () => raw?.off('drain', onSocketDrain);
}
