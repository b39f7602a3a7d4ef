import { GatewayError } from '../../protocol/common/errors.js';
import { StatusCode } from '../../protocol/common/status.js';
/**
 * The part of the WHATWG WebSocket API the client uses. The browser's `WebSocket`, Node 22's global
 * one and the `ws` package's class all satisfy it, so the library itself never imports `ws`.
 */
export interface WebSocketCloseEventLike {
  readonly code: number;
  readonly reason: string;
}

export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  readonly bufferedAmount: number;
  /** Set to 'arraybuffer' by the client, so binary frames arrive as bytes in browsers and in ws alike. */
  binaryType?: string;
  /** Text, or bytes (v2's binary message frames). */
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'error', listener: (event: object) => void): void;
  addEventListener(type: 'message', listener: (event: { readonly data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: WebSocketCloseEventLike) => void): void;
}

export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

/** The WebSocket to use: the one given, else the runtime's own; none is a typed error. */
export function resolveWebSocket(given: WebSocketConstructor | undefined): WebSocketConstructor {
  const ctor = given ?? (globalThis as { WebSocket?: WebSocketConstructor | undefined }).WebSocket;
  if (!ctor) {
    throw new GatewayError(
      StatusCode.FAILED_PRECONDITION,
      'no WebSocket implementation: pass options.WebSocket (e.g. the ws package) in this runtime',
    );
  }
  return ctor;
}
