/**
 * What the endpoints report about connections, for metrics and similar side channels: the only
 * type the observers (metrics.ts) and the reporters (endpoints/, admission/) share. One type for
 * both protocols; each endpoint is given its own instance (metrics.ts counts v1 and v2 apart).
 */
import type { CallStatus } from '../../protocol/common/index.js';
import type { ConnectionOutcome } from '../session/connection.js';

/** The span an observation belongs to, when tracing is on: metrics attach it as an exemplar. */
export interface TraceRef {
  readonly traceId: string;
  readonly spanId: string;
}

/** Every method is optional: an observer implements what it counts. */
export interface ConnectionObserver {
  opened?(): void;
  finished?(outcome: ConnectionOutcome, durationMs: number, trace?: TraceRef): void;
  /** An error frame was sent: v1's refused note frames; v2's socket-level and stream errors. */
  rejected?(reason: string): void;
  /** A v1 note went to the core. */
  forwarded?(): void;
  streamOpened?(method: string): void;
  /** `opened`: false for an `open` refused at once; `method` is then `(unknown)` when not in the catalog. */
  streamFinished?(method: string, status: CallStatus, opened: boolean): void;
  /** An upgrade was refused, before any protocol ran (reported to the v1 instance). */
  refused?(statusCode: number, reason: string): void;
}
