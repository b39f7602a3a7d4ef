/**
 * Protocol v2's words in Connect's terms: a status becomes a ConnectError with the same code (both
 * number gRPC's codes), a rejected frame a ConnectError that carries the gateway's reason and
 * details, request headers an `open` frame's metadata.
 */
import { type Code, ConnectError } from '@connectrpc/connect';
import type { CallStatus } from '../../../protocol/common/status.js';
import type { ErrorFrameV2 } from '../../../protocol/v2/frames.js';
import { FrameRejectedError } from '../call-record.js';

/** The metadata key of a rejected frame's reason on its ConnectError (`error.metadata`). */
export const REJECT_REASON_HEADER = 'gateway-reject-reason';

/** A status's metadata (the core's trailers, `-bin` values base64) as Headers. */
export function trailerFromStatus(status: CallStatus): Headers {
  const trailer = new Headers();
  for (const [key, value] of Object.entries(status.metadata)) trailer.append(key, value);
  return trailer;
}

/** A non-OK status: the same code, its message, its metadata. */
export const connectErrorFromStatus = (status: CallStatus): ConnectError =>
  new ConnectError(status.message, status.code as number as Code, trailerFromStatus(status));

/**
 * A frame the gateway rejected (the call is cancelled for it): the frame's code and message, its
 * reason in the `gateway-reject-reason` metadata, and `cause` a FrameRejectedError with the
 * reason and the details (`path`, `message`).
 */
export function rejectedFrameError(frame: ErrorFrameV2): ConnectError {
  const cause = new FrameRejectedError(frame);
  return new ConnectError(
    `${frame.reason}: ${frame.message}`,
    cause.code as number as Code,
    { [REJECT_REASON_HEADER]: frame.reason },
    undefined,
    cause,
  );
}

/**
 * Request headers → an `open` frame's metadata. Headers lower-cases the keys and joins repeated
 * ones with ", ", as HTTP does; the gateway refuses reserved keys (INVALID_ARGUMENT) as for any client.
 */
export function toMetadata(header: Headers): Record<string, string> | undefined {
  const metadata: Record<string, string> = {};
  let any = false;
  header.forEach((value, key) => {
    metadata[key] = value;
    any = true;
  });
  return any ? metadata : undefined;
}
