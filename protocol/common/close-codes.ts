/**
 * WebSocket close codes of the v1 contract. gRPC statuses map to 4000 + code (a convention of
 * earlier gRPC WebSocket proxies); the 1xxx codes are RFC 6455's own.
 */
import { type StatusCode, statusName } from './status.js';

export const CloseCode = {
  /** The call ended with status OK. */
  NORMAL: 1000,
  /** The gateway is shutting down. */
  GOING_AWAY: 1001,
  /** Too many rejected frames, a sustained flood, or another policy violation. */
  POLICY_VIOLATION: 1008,
  /** A frame over the size limit. */
  MESSAGE_TOO_BIG: 1009,
  /** An unexpected fault in the gateway. */
  INTERNAL_ERROR: 1011,
  /** 4000 + gRPC status code, for every non-OK final status. */
  STATUS_BASE: 4000,
} as const;

/** What each close code means, for the docs generated from this module. */
export const CLOSE_CODE_MEANINGS: Readonly<Record<number, string>> = {
  [CloseCode.NORMAL]: 'The call ended with status OK (after the status frame).',
  [CloseCode.GOING_AWAY]: 'The gateway is shutting down (after the status frame).',
  [CloseCode.POLICY_VIOLATION]:
    'Policy: too many rejected frames, or a sustained flood over the rate limit (after the status frame).',
  [CloseCode.MESSAGE_TOO_BIG]:
    'A frame exceeded the size limit; sent by the WebSocket layer as the frame arrives, possibly without a status frame. The call is cancelled.',
  [CloseCode.INTERNAL_ERROR]: 'An unexpected fault in the gateway.',
};

/** RFC 6455 §5.5: a control frame's payload is at most 125 bytes, 2 of them the code. */
export const MAX_CLOSE_REASON_BYTES = 123;

export function closeCodeForStatus(code: StatusCode): number {
  return code === 0 ? CloseCode.NORMAL : CloseCode.STATUS_BASE + code;
}

/** The status a close code stands for, when it is one of the 4000 + code range. */
export function statusForCloseCode(closeCode: number): StatusCode | undefined {
  if (closeCode === CloseCode.NORMAL) return 0;
  const code = closeCode - CloseCode.STATUS_BASE;
  return code >= 1 && code <= 16 ? (code as StatusCode) : undefined;
}

/** The reason sent with a status close: the status name, which always fits. */
export const closeReasonForStatus = (code: StatusCode): string => statusName(code);

/** Cuts a reason to at most 123 UTF-8 bytes without splitting a character. */
export function truncateCloseReason(reason: string): string {
  const encoder = new TextEncoder();
  if (encoder.encode(reason).length <= MAX_CLOSE_REASON_BYTES) return reason;
  let out = '';
  let bytes = 0;
  for (const char of reason) {
    const size = encoder.encode(char).length;
    if (bytes + size > MAX_CLOSE_REASON_BYTES) break;
    out += char;
    bytes += size;
  }
  return out;
}
