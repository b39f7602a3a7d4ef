/**
 * The outbox: notes accepted by `send()` that are not on a stream yet (disconnected, reconnecting,
 * or the in-flight window is full). Bounded: a full outbox refuses with a typed error, it never
 * drops. Pure (no timers, no sockets), shared by every client of the gateway.
 */
import { GatewayError, StatusCode } from '../../protocol/status.js';

/** `send()` while the outbox already holds `capacity` notes. Nothing was queued. */
export class OutboxFullError extends GatewayError {
  readonly capacity: number;
  constructor(capacity: number) {
    super(
      StatusCode.RESOURCE_EXHAUSTED,
      `the outbox is full (${capacity} notes waiting for a connection): wait for fates before sending more`,
    );
    this.capacity = capacity;
  }
}

export interface Outbox<T> {
  readonly size: number;
  readonly capacity: number;
  /** Queues at the back; throws OutboxFullError when `size >= capacity`. */
  push(item: T): void;
  /**
   * Puts items back at the front, in their order (notes refused by a stream, to resend first).
   * They were admitted once already, so this may exceed the capacity: never a drop.
   */
  requeue(items: readonly T[]): void;
  shift(): T | undefined;
  peek(): T | undefined;
  /** Empties the outbox and returns what it held, oldest first. */
  drain(): T[];
  items(): readonly T[];
}

export function createOutbox<T>(capacity: number): Outbox<T> {
  if (!(capacity >= 1)) throw new RangeError('the outbox capacity must be at least 1');
  let queue: T[] = [];
  return {
    get size() {
      return queue.length;
    },
    capacity,
    push(item) {
      if (queue.length >= capacity) throw new OutboxFullError(capacity);
      queue.push(item);
    },
    requeue(items) {
      queue = [...items, ...queue];
    },
    shift: () => queue.shift(),
    peek: () => queue[0],
    drain() {
      const all = queue;
      queue = [];
      return all;
    },
    items: () => queue,
  };
}
