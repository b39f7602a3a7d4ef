/**
 * Log fields that lead from a log line to its trace: `trace_id` and `span_id`, as the OpenTelemetry
 * log data model names them. Pure; no tracing library needed.
 */

/** W3C trace context: version 00, 32 hex trace id, 16 hex span id, 2 hex flags. */
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

export interface TraceLogFields {
  readonly trace_id: string;
  readonly span_id: string;
}

/** The fields of a call whose metadata carries `traceparent` (the gateway's client span, when tracing is on). */
export function traceLogFields(metadata: Readonly<Record<string, string>>): TraceLogFields | undefined {
  const traceparent = metadata.traceparent;
  const match = traceparent === undefined ? null : TRACEPARENT.exec(traceparent);
  return match ? { trace_id: match[1] as string, span_id: match[2] as string } : undefined;
}
