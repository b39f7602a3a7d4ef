/**
 * One upstream call, as everything above the channel pool sees it: messages in and out (wire bytes
 * by default), half-close, cancel, flow control, and one final status. The pool (channel-pool.ts)
 * is the only module that speaks gRPC.
 */
import { type CallStatus, StatusCode } from '../../protocol/common/index.js';
import type { MethodInfo } from '../methods/method-registry.js';
import type { CoreReport } from './core-diagnosis.js';

export interface CallPort<Req = Uint8Array> {
  /** false when the call's write buffer is full: `onDrain` follows. */
  write(message: Req): boolean;
  /** Half-close. */
  end(): void;
  cancel(): void;
  /** Stop/restart reading responses (HTTP/2 flow control then holds the server back). */
  pause(): void;
  resume(): void;
}

export interface CallHandlers<Res = Uint8Array> {
  /**
   * The core's response headers, the application's keys only (protocol/common/metadata.ts); never
   * for a Trailers-Only response. Absent: nobody wants them, and they are not read.
   */
  onHeaders?: ((metadata: Record<string, string>) => void) | undefined;
  onMessage(message: Res): void;
  /** The response stream has been read to its end. */
  onReadEnd(): void;
  /**
   * The status as the client sees it (core-status.ts). `hiddenDetail`: what the transport said, kept
   * from the client; for the log. A call the gateway cancelled reports CANCELLED "cancelled".
   */
  onStatus(status: CallStatus, hiddenDetail?: string): void;
  onDrain(): void;
}

export interface CallOptions {
  /** Deadline from now, in ms. */
  readonly timeoutMs?: number;
}

export interface CallOpener {
  /** Starts a call; never throws: failures arrive as a status. */
  open(
    method: MethodInfo,
    metadata: Readonly<Record<string, string>>,
    options: CallOptions,
    handlers: CallHandlers,
  ): CallPort;
  /** Each core asked why it is (not) serving, where the opener has cores: to say why a call failed. */
  diagnoseCores?(timeoutMs: number): Promise<readonly CoreReport[]>;
}

/** The status of a call the gateway cancelled. */
export const CANCELLED_BY_GATEWAY: CallStatus = {
  code: StatusCode.CANCELLED,
  name: 'CANCELLED',
  message: 'cancelled',
  metadata: {},
};

/**
 * A call that fails on its own, never touching a channel: its read end and status arrive on the next
 * turn (the caller has its call object by then), and every control is a no-op.
 */
export function failedCall<Req, Res>(
  handlers: CallHandlers<Res>,
  status: CallStatus,
  detail: string,
): CallPort<Req> {
  let cancelled = false;
  setImmediate(() => {
    handlers.onReadEnd();
    handlers.onStatus(cancelled ? CANCELLED_BY_GATEWAY : status, detail);
  });
  return {
    write: () => true,
    end: () => {},
    cancel: () => {
      cancelled = true;
    },
    pause: () => {},
    resume: () => {},
  };
}

/** An opener whose every call fails with `status` (a request the gateway refuses before any call). */
export const refusingCalls = (status: CallStatus): CallOpener => ({
  open: (_method, _metadata, _options, handlers) => failedCall(handlers, status, status.message),
});
