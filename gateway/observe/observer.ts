/**
 * What the endpoints report about connections, for metrics and similar side channels: the only
 * types the observers (metrics.ts) and the reporters (endpoints/, admission/) share.
 */
import type { CallStatus } from '../../protocol/common/index.js';
import type { V2RejectReason } from '../../protocol/v2/index.js';
import type { ConnectionOutcome } from '../session/connection.js';
import type { V1Outcome } from '../session/v1-connection.js';

/** v1 connections and every refused upgrade; all optional. */
export interface ConnectionObserver {
  opened?(): void;
  rejected?(reason: string): void;
  forwarded?(): void;
  finished?(outcome: V1Outcome, durationMs: number): void;
  refused?(statusCode: number, reason: string): void;
}

/** What v2 connections report, for metrics; all optional. */
export interface V2Observer {
  opened?(): void;
  finished?(outcome: ConnectionOutcome, durationMs: number): void;
  /** An error frame was sent, socket-level or on a stream. */
  errorFrame?(reason: V2RejectReason): void;
  streamOpened?(method: string): void;
  /** `opened`: false for an `open` refused at once; `method` is then `(unknown)` when not in the catalog. */
  streamFinished?(method: string, status: CallStatus, opened: boolean): void;
}
