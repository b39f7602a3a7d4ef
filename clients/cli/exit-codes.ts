/**
 * The CLI's exit status. A script can tell "the chat went fine", "some of my input was refused",
 * "I called it wrong" and each gRPC status apart without parsing output.
 */
import type { CallStatus } from '../../protocol/common/status.js';

export const ExitCode = {
  /** The stream ended with status OK and every note was accepted. */
  OK: 0,
  /** The stream ended OK, but a note was refused (invalid input, or an error frame from the gateway). */
  INPUT_REJECTED: 1,
  /** Bad flags or environment, or a URL the server has no WebSocket endpoint at (HTTP 404). */
  USAGE: 2,
  /** A bug in the CLI itself (sysexits' EX_SOFTWARE). */
  INTERNAL: 70,
  /** Non-OK final status N exits with 10 + N: CANCELLED 11 … UNAVAILABLE 24 … UNAUTHENTICATED 26. */
  STATUS_BASE: 10,
} as const;

/** Upgrade answers that mean "wrong URL or flags", not "the server is down". */
const USAGE_HTTP_STATUSES = new Set([400, 404, 405, 426]);

export function exitCodeFor(status: CallStatus, rejectedInputs: number, httpStatus?: number): number {
  if (httpStatus !== undefined && USAGE_HTTP_STATUSES.has(httpStatus)) return ExitCode.USAGE;
  if (status.code !== 0) return ExitCode.STATUS_BASE + status.code;
  return rejectedInputs > 0 ? ExitCode.INPUT_REJECTED : ExitCode.OK;
}
