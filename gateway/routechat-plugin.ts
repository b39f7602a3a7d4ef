/**
 * `GET /v1/routechat`: the upgrade checks (before any WebSocket exists) and the adapter that wires
 * one ws socket and one upstream call to a relay. The only gateway module that touches ws objects.
 */
import type {} from '@fastify/websocket';
import type { FastifyPluginAsync } from 'fastify';
import type { WebSocket } from 'ws';
import { DEFAULT_FRAME_LIMITS, ROUTECHAT_PATH } from '../protocol/index.js';
import type { Authenticator } from './auth.js';
import type { GatewayConfig } from './config.js';
import { createEndpointCheck } from './endpoint-check.js';
import { createRelay, type Relay, type RelayOutcome, type RelaySocket } from './relay.js';
import type { Session, SessionRegistry } from './sessions.js';
import { offeredSubprotocols, upstreamMetadata } from './upgrade.js';
import type { Upstream } from './upstream.js';

export interface RoutechatPluginOptions {
  readonly config: GatewayConfig;
  /** Checks the caller's token before the upgrade; absent: tokens pass through to the core. */
  readonly authenticate?: Authenticator;
  readonly upstream: Upstream;
  readonly sessions: SessionRegistry;
  readonly observer?: ConnectionObserver;
  /** Time a note spends in the gateway (receipt to write, in seconds), per relayed note. */
  readonly onRelayLatency?: (seconds: number) => void;
}

/** Metrics and similar side channels; all optional. */
export interface ConnectionObserver {
  opened?(): void;
  rejected?(reason: string): void;
  forwarded?(): void;
  finished?(outcome: RelayOutcome, durationMs: number): void;
  refused?(statusCode: number, reason: string): void;
}

/**
 * The relay's view of the socket, with the frames sent in one event-loop turn coalesced into one
 * write: ws writes each frame with its own writev(2), and on a busy relay that syscall was ~43% of
 * the gateway's CPU (bench/results/profile.md). Corked until setImmediate (not nextTick: grpc-js
 * delivers the notes of one HTTP/2 read over several ticks), a burst becomes one syscall; an idle
 * connection pays nothing. Measured: +15% notes/s, -11% CPU per note (bench/proposals/README.md).
 */
function coalescingSocket(socket: WebSocket, raw: { cork(): void; uncork(): void } | null): RelaySocket {
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

export const routechatPlugin: FastifyPluginAsync<RoutechatPluginOptions> = async (app, options) => {
  const { config, upstream, sessions, observer } = options;
  const limits = {
    frame: {
      ...DEFAULT_FRAME_LIMITS,
      maxStringLength: Math.min(DEFAULT_FRAME_LIMITS.maxStringLength, config['max-frame-size']),
    },
    maxRejectedFrames: config['max-rejected-frames'],
    socketHighWaterMark: config['socket-high-water-mark'],
    rateLimit: config['rate-limit'],
    rateBurst: config['rate-burst'],
    floodGraceMs: config['flood-grace'],
  };

  const idleMs = config['idle-timeout'];
  const lifetimeMs = config['max-stream-lifetime'];
  if (idleMs > 0 || lifetimeMs > 0) {
    // One sweep for every connection instead of a timer per connection; resolution ≤ 1 s.
    const period = Math.max(
      50,
      Math.min(1000, Math.floor(Math.min(...[idleMs, lifetimeMs].filter((v) => v > 0)) / 4)),
    );
    const sweeper = setInterval(() => sessions.sweep(performance.now(), idleMs, lifetimeMs), period);
    sweeper.unref();
    app.addHook('onClose', async () => clearInterval(sweeper));
  }

  const checkUpgrade = createEndpointCheck(options, ROUTECHAT_PATH);

  app.get(ROUTECHAT_PATH, { websocket: true, preValidation: checkUpgrade }, (socket: WebSocket, request) => {
    const log = request.log;
    const openedAt = performance.now();
    const metadata = upstreamMetadata(request.headers, config['forward-headers'], request.id);
    const rawSocket = request.raw.socket as typeof request.raw.socket | null;
    // Listeners first, before anything can yield: frames that arrive meanwhile must not be lost.
    let relay: Relay | undefined;
    // A bug in the relay must cost one connection (status INTERNAL, close 1011), never the process.
    const guarded =
      <A extends unknown[]>(handler: (...args: A) => void) =>
      (...args: A) => {
        try {
          handler(...args);
        } catch (error) {
          log.error({ err: error }, 'relay fault');
          relay?.fail();
        }
      };
    const call = upstream.openRouteChat(metadata, {
      onNote: guarded((note) => relay?.onCallNote(note)),
      onReadEnd: guarded(() => relay?.onCallReadEnd()),
      onStatus: guarded((status, hiddenDetail) => {
        // The client gets a plain message; what the transport said stays here, under this reqId.
        if (hiddenDetail !== undefined)
          log.warn({ status: status.name, detail: hiddenDetail }, 'core call failed');
        relay?.onCallStatus(status);
      }),
      onDrain: guarded(() => relay?.onCallDrain()),
    });
    relay = createRelay(coalescingSocket(socket, rawSocket), call, limits, {
      onRejected: (reason) => observer?.rejected?.(reason),
      onNoteForwarded: () => observer?.forwarded?.(),
      ...(options.onRelayLatency ? { onRelayLatency: options.onRelayLatency } : {}),
      onFinished: (outcome) => {
        sessions.delete(session);
        rawSocket?.off('drain', onSocketDrain);
        const durationMs = Math.round(performance.now() - session.openedAt);
        observer?.finished?.(outcome, durationMs);
        log.info(
          {
            durationMs,
            framesIn: outcome.framesIn,
            framesOut: outcome.framesOut,
            rejected: outcome.rejected,
            status: outcome.status.name,
            closeCode: outcome.closeCode,
            cause: outcome.cause,
          },
          'connection closed',
        );
      },
    });
    const session: Session = {
      relay,
      ip: request.ip,
      openedAt,
      alive: true,
      ping: () => socket.ping(),
      terminate: () => socket.terminate(),
    };
    const onSocketDrain = guarded(() => relay?.onSocketDrain());
    // ws writes to this socket; its 'drain' is when the client has caught up.
    rawSocket?.on('drain', onSocketDrain);
    socket.on(
      'message',
      guarded((data: Buffer, isBinary: boolean) => {
        if (isBinary) relay?.onClientBinary();
        else relay?.onClientText(data.toString());
      }),
    );
    socket.on('pong', () => {
      session.alive = true;
    });
    socket.on('error', (error) => {
      // ws has sent its close frame (or the connection is gone): the call has no client any more.
      log.debug({ err: error }, 'socket error');
      relay?.onClientGone();
    });
    socket.on('close', (code) => {
      if (relay?.state !== 'closed') log.debug({ code }, 'client closed before the call ended');
      relay?.onClientGone();
    });
    sessions.add(session);
    observer?.opened?.();
    log.info(
      {
        origin: request.headers.origin,
        subprotocol: socket.protocol || undefined,
        offered: offeredSubprotocols(request.headers).filter((p) => !p.startsWith('bearer.')),
      },
      'connection opened',
    );
  });
};
