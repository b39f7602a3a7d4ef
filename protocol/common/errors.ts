/**
 * The one error type users and logs see, from the gateway's statuses and error frames and from the
 * client library: a gRPC status code and its name, the message, why a frame was refused (`reason`),
 * which fields were wrong (`details`), and the status metadata (trailers).
 */
import type { ErrorDetail } from './error-details.js';
import { type CallStatus, StatusCode, type StatusName, statusName } from './status.js';

export interface GatewayErrorOptions {
  /** Why the gateway refused a frame: an error frame's `reason` (v1's or v2's list). */
  readonly reason?: string;
  readonly details?: readonly ErrorDetail[];
  readonly metadata?: Readonly<Record<string, string>>;
  readonly cause?: unknown;
}

/** An error frame of either protocol, as far as an error needs it. */
interface ErrorFrameLike {
  readonly type: 'error';
  readonly code: StatusName;
  readonly reason: string;
  readonly message: string;
  readonly details: readonly ErrorDetail[];
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

const isStatusName = (value: unknown): value is StatusName =>
  typeof value === 'string' && Object.hasOwn(StatusCode, value);

export class GatewayError extends Error {
  override readonly name: string = 'GatewayError';
  readonly statusName: StatusName;
  readonly reason: string | undefined;
  readonly details: readonly ErrorDetail[];
  readonly metadata: Readonly<Record<string, string>>;

  constructor(
    readonly code: StatusCode,
    message: string,
    options: GatewayErrorOptions | readonly ErrorDetail[] = {},
  ) {
    // A bare details array: the older three-argument form.
    const {
      reason,
      details = [],
      metadata = {},
      cause,
    } = Array.isArray(options)
      ? { details: options as readonly ErrorDetail[] }
      : (options as GatewayErrorOptions);
    super(message, cause === undefined ? undefined : { cause });
    this.statusName = statusName(code);
    this.reason = reason;
    this.details = details;
    this.metadata = metadata;
  }

  /**
   * Any failure as a GatewayError: itself; a non-OK status (`CallStatus`, or a grpc-js
   * ServiceError's `code`, `details` and `metadata`); an error frame of v1 or v2; an Error, or
   * anything else, as UNKNOWN with its text and the original as `cause`.
   */
  static from(value: unknown): GatewayError {
    if (value instanceof GatewayError) return value;
    if (isRecord(value)) {
      if (value.type === 'error' && isStatusName(value.code)) {
        const frame = value as unknown as ErrorFrameLike;
        return new GatewayError(StatusCode[frame.code], frame.message, {
          reason: frame.reason,
          details: frame.details,
        });
      }
      if (typeof value.code === 'number' && statusName(value.code) !== 'UNKNOWN') {
        const status = value as Partial<CallStatus> & { details?: unknown };
        const message =
          typeof status.message === 'string' && !(value instanceof Error)
            ? status.message
            : typeof status.details === 'string'
              ? status.details
              : String(status.message ?? '');
        return new GatewayError(value.code as StatusCode, message, {
          metadata: plainMetadata(value.metadata),
          ...(value instanceof Error ? { cause: value } : {}),
        });
      }
    }
    const message = value instanceof Error ? value.message : String(value);
    return new GatewayError(StatusCode.UNKNOWN, message, { cause: value });
  }
}

/** A CallStatus's record as it is; grpc-js Metadata by its string values (binary ones are left out). */
function plainMetadata(metadata: unknown): Readonly<Record<string, string>> {
  if (!isRecord(metadata)) return {};
  const map = typeof metadata.getMap === 'function' ? (metadata.getMap as () => unknown)() : metadata;
  if (!isRecord(map)) return {};
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(map)) if (typeof value === 'string') out[key] = value;
  return out;
}
