/**
 * The CLI's exit status. A script can tell "the chat went fine", "some of my input was refused",
 * "I called it wrong" and each gRPC status apart without parsing output.
 */
import type { CallStatus } from '../../protocol/status.js';

export const ExitCode = {
  /** The stream ended with status OK and every note was accepted. */
  OK: 0,
  /** The stream ended OK, but a note was refused (invalid input, or an error frame from the gateway). */
  INPUT_REJECTED: 1,
  /** Bad flags or environment: nothing was sent. */
  USAGE: 2,
  /** A bug in the CLI itself (sysexits' EX_SOFTWARE). */
  INTERNAL: 70,
  /** Non-OK final status N exits with 10 + N: CANCELLED 11 … UNAVAILABLE 24 … UNAUTHENTICATED 26. */
  STATUS_BASE: 10,
} as const;

export function exitCodeFor(status: CallStatus, rejectedInputs: number): number {
  if (status.code !== 0) return ExitCode.STATUS_BASE + status.code;
  return rejectedInputs > 0 ? ExitCode.INPUT_REJECTED : ExitCode.OK;
}
