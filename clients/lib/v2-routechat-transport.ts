/**
 * RouteChat over a shared v2 socket: `routeChatOverV2(client)` is a `WebSocket` constructor for
 * `RouteChatSocket` whose instances each speak the v1 RouteChat contract over one v2 bidi stream
 * (`routeguide.RouteGuide/RouteChat`) of `client`. So a page keeps RouteChatSocket's outbox, fates
 * and reconnect while every call it makes shares one WebSocket.
 *
 * Mapping: a v1 note frame sent → the stream's message; `{"type":"end"}` → half-close; `close()` →
 * cancel. The stream's messages → v1 note frames; its error frames → v1 error frames; its status →
 * the v1 status frame, then a close with v1's code (1000 for OK, 4000 + code otherwise). 'open'
 * fires once the stream is opened on an open socket. A broken v2 socket ends the stream UNAVAILABLE
 * (4014), which RouteChatSocket retries by constructing a new instance: a new call on the same
 * client, which reconnects its socket by itself.
 *
 * One v1 fact has no v2 frame: a gateway going away. v1 closes 1001 after the status; v2 half-closes
 * a bidi stream for the client and ends it OK, then closes the socket once no stream is left. An OK
 * status on a stream the client had not half-closed can only be that (the core ends RouteChat only
 * after the client's end), so it is reported as v1 reports a drain: the status, then 1001.
 */
import { CloseCode, closeCodeForStatus, closeReasonForStatus } from '../../protocol/common/close-codes.js';
import { type CallStatus, StatusCode } from '../../protocol/common/status.js';
import type { ErrorFrame, RejectReason } from '../../protocol/v1/frames.js';
import { type ErrorFrameV2, V2_SUBPROTOCOL, type V2RejectReason } from '../../protocol/v2/index.js';
import type { Call } from './call-record.js';
import { localStatus } from './close-status.js';
import type { GatewayClient, MethodMap } from './gateway-client.js';
import type { WebSocketCloseEventLike, WebSocketConstructor, WebSocketLike } from './web-socket-like.js';

export const ROUTECHAT_METHOD = 'routeguide.RouteGuide/RouteChat';

/** A method map that has RouteChat (RouteGuideMethods, or a page's own map that adds it). */
export type WithRouteChat = MethodMap & {
  'routeguide.RouteGuide/RouteChat': { request: unknown; response: unknown };
};

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** v2's reasons in v1's words; fates.ts tells "not now" (after_end, rate_limited) from "not this". */
const V1_REASON: Readonly<Record<V2RejectReason, RejectReason>> = {
  binary_frame: 'binary_frame',
  invalid_json: 'invalid_json',
  not_an_object: 'not_an_object',
  too_complex: 'too_complex',
  invalid_frame_type: 'invalid_frame_type',
  invalid_frame: 'invalid_note',
  unknown_stream: 'invalid_frame_type',
  duplicate_stream: 'invalid_frame_type',
  invalid_message: 'invalid_note',
  message_too_large: 'invalid_note',
  // The client sends only within credit; should the gateway still say so, it is "not now".
  no_credit: 'rate_limited',
  after_end: 'after_end',
  rate_limited: 'rate_limited',
};

export const v1ErrorFrame = (frame: ErrorFrameV2): ErrorFrame => ({
  type: 'error',
  code: frame.code,
  reason: V1_REASON[frame.reason],
  message: frame.message,
  details: frame.details,
});

type Listeners = {
  open: (() => void)[];
  error: ((event: object) => void)[];
  message: ((event: { readonly data: unknown }) => void)[];
  close: ((event: WebSocketCloseEventLike) => void)[];
};

/** RouteChat streams on `client`, each looking like one v1 RouteChat WebSocket. */
export function routeChatOverV2<M extends WithRouteChat>(client: GatewayClient<M>): WebSocketConstructor {
  return class V2RouteChatStream implements WebSocketLike {
    readyState = CONNECTING;
    readonly protocol = V2_SUBPROTOCOL;
    readonly bufferedAmount = 0;
    readonly #listeners: Listeners = { open: [], error: [], message: [], close: [] };
    readonly #call: Call<unknown, unknown> | undefined;
    #halfClosed = false;

    // The URL and subprotocols are the client's business (its URL, its token).
    constructor(_url: string, _protocols: string[]) {
      let call: Call<unknown, unknown>;
      try {
        call = client.bidi(ROUTECHAT_METHOD) as Call<unknown, unknown>;
      } catch (error) {
        // The client is closed for good: nothing a retry can fix.
        const message = error instanceof Error ? error.message : String(error);
        queueMicrotask(() => this.#finish(localStatus(StatusCode.FAILED_PRECONDITION, message)));
        return;
      }
      this.#call = call;
      call.on('error', (frame) => this.#message(v1ErrorFrame(frame)));
      void this.#whenOnWire().then(() => {
        if (this.readyState !== CONNECTING) return;
        this.readyState = OPEN;
        for (const listener of this.#listeners.open) listener();
      });
      void (async () => {
        // The status only after every message: v1 ignores notes after its status frame.
        for await (const note of call.messages) {
          if (this.readyState === CLOSING || this.readyState === CLOSED) return;
          this.#message(note);
        }
        this.#finish(await call.status);
      })();
    }

    /** Resolves once the call is opened on an open socket (the client opens calls as it opens). */
    #whenOnWire(): Promise<void> {
      if (client.state.name === 'open') return Promise.resolve();
      return new Promise((resolve) => {
        const off = client.on('state', (state) => {
          if (state.name !== 'open' && state.name !== 'closed') return;
          off();
          // The client writes waiting calls right after announcing 'open'.
          if (state.name === 'open') queueMicrotask(resolve);
        });
        void this.#call?.status.then(off);
      });
    }

    send(data: string): void {
      const call = this.#call;
      if (this.readyState !== OPEN || !call) return;
      let value: unknown;
      try {
        value = JSON.parse(data);
      } catch {
        this.#message({
          type: 'error',
          code: 'INVALID_ARGUMENT',
          reason: 'invalid_json',
          message: 'the frame is not JSON',
          details: [],
        } satisfies ErrorFrame);
        return;
      }
      const isEnd =
        typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'end';
      if (isEnd) {
        this.#halfClosed = true;
        call.end();
        return;
      }
      try {
        call.send(value);
      } catch {
        // After end: the same answer v1's gateway gives.
        this.#message({
          type: 'error',
          code: 'FAILED_PRECONDITION',
          reason: 'after_end',
          message: 'frame not accepted: the client already sent "end"',
          details: [],
        } satisfies ErrorFrame);
      }
    }

    close(code?: number, reason?: string): void {
      if (this.readyState === CLOSING || this.readyState === CLOSED) return;
      this.readyState = CLOSING;
      this.#call?.cancel();
      queueMicrotask(() => this.#closed({ code: code ?? 1005, reason: reason ?? '' }));
    }

    addEventListener(type: 'open', listener: () => void): void;
    addEventListener(type: 'error', listener: (event: object) => void): void;
    addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
    addEventListener(type: 'close', listener: (event: WebSocketCloseEventLike) => void): void;
    addEventListener(type: keyof Listeners, listener: (event: never) => void): void {
      (this.#listeners[type] as ((event: never) => void)[]).push(listener);
    }

    #message(frame: unknown): void {
      const event = { data: JSON.stringify(frame) };
      for (const listener of this.#listeners.message) listener(event);
    }

    /** The stream's status: v1's status frame, then v1's close. */
    #finish(final: CallStatus): void {
      if (this.readyState === CLOSING || this.readyState === CLOSED) return;
      const drained = final.code === StatusCode.OK && !this.#halfClosed;
      this.#message({ type: 'status', ...final });
      this.#closed(
        drained
          ? { code: CloseCode.GOING_AWAY, reason: 'gateway shutting down' }
          : { code: closeCodeForStatus(final.code), reason: closeReasonForStatus(final.code) },
      );
    }

    #closed(event: WebSocketCloseEventLike): void {
      if (this.readyState === CLOSED) return;
      this.readyState = CLOSED;
      for (const listener of this.#listeners.close) listener(event);
    }
  };
}
