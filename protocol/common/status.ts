/**
 * gRPC status codes, as the wire contract names them. The numbers are gRPC's own (a test pins them
 * to grpc-js's `status` enum); they are restated here so that browser code needs no gRPC library.
 */
export const StatusCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type StatusName = keyof typeof StatusCode;
export type StatusCode = (typeof StatusCode)[StatusName];

export const STATUS_NAMES = Object.keys(StatusCode) as StatusName[];

const NAME_BY_CODE = new Map<number, StatusName>(STATUS_NAMES.map((name) => [StatusCode[name], name]));

/** The name of a gRPC status code; codes outside 0–16 are UNKNOWN, as gRPC treats them. */
export function statusName(code: number): StatusName {
  return NAME_BY_CODE.get(code) ?? 'UNKNOWN';
}

/** A final status as the gateway reports it: the call's code, name, details and trailers. */
export interface CallStatus {
  readonly code: StatusCode;
  readonly name: StatusName;
  readonly message: string;
  readonly metadata: Readonly<Record<string, string>>;
}
