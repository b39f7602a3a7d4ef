/**
 * What RouteChat's note session (RouteChatSocket) needs of whatever carries its streams: a v1
 * socket per stream (v1-note-transport.ts), or one bidi stream of a shared GatewayClient per
 * stream (v2-note-transport.ts). The session keeps the outbox, the fates and the pacing; a
 * transport only opens streams, writes frames and reports what came back, in its own protocol's
 * terms (v2's error reasons stay v2's).
 */
import type { CallStatus } from '../../protocol/common/status.js';
import type { ErrorFrame, NoteFrame, RouteNoteJson } from '../../protocol/v1/frames.js';
import type { ErrorFrameV2 } from '../../protocol/v2/index.js';
import type { Link, LinkReport } from './reconnecting-core.js';
import type { TokenSource } from './token.js';

/** A frame the gateway refused, in the words of the protocol that carried it. */
export type NoteErrorFrame = ErrorFrame | ErrorFrameV2;

/** What the session writes on a stream. */
export type OutgoingFrame =
  | { readonly kind: 'note'; readonly note: RouteNoteJson }
  /** `sendRaw`: as-is on v1; on v2 the text's JSON value (or the text, when it is not JSON). */
  | { readonly kind: 'raw'; readonly text: string }
  /** Half-close. */
  | { readonly kind: 'end' };

/** What a stream reports, besides opening and ending (the reconnecting core's part). */
export interface NoteStreamReport<F extends NoteErrorFrame> extends LinkReport {
  /** A note from the core, checked against the v1 note schema. */
  note(frame: NoteFrame): void;
  /** The gateway refused a frame of this stream; the stream goes on. */
  rejected(frame: F): void;
}

/** One RouteChat stream. */
export interface NoteStream extends Link {
  /** `routechat.v1`, or `gateway.v2` for a stream of a GatewayClient; '' before open. */
  readonly protocol: string;
  readonly bufferedAmount: number;
  /** Frames may be written now (open, not closing). */
  readonly writable: boolean;
  write(frame: OutgoingFrame): void;
  /**
   * Ends the stream from this side, with `status` unless the gateway's status came first. `ended`
   * is reported, at once or when the stream is really over.
   */
  cancel(status: CallStatus): void;
}

/** Opens RouteChat streams; `F` is the error frame of its protocol. */
export interface NoteTransport<F extends NoteErrorFrame> {
  /** Asked before each stream; undefined for none, or when the carrier has its own (v2). */
  readonly token: TokenSource | undefined;
  /**
   * Starts one stream, with `metadata` for its call (the producer session of exactly-once
   * delivery). Throws for what no retry can fix (a malformed URL, a closed client).
   */
  open(
    token: string | undefined,
    report: NoteStreamReport<F>,
    metadata?: Readonly<Record<string, string>>,
  ): NoteStream;
}
