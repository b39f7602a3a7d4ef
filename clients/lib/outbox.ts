/**
 * The outbox: notes accepted by `send()` that are not on a stream yet (disconnected, reconnecting,
 * or the in-flight window is full). Bounded: a full outbox refuses with a typed error, it never
 * drops. Pure (no timers, no sockets), shared by every client of the gateway.
 */
import { GatewayError } from '../../protocol/common/errors.js';
import { StatusCode } from '../../protocol/common/status.js';

/** `send()` while the outbox already holds `capacity` notes. Nothing was queued. */
export class OutboxFullError extends GatewayError {
  readonly capacity: number;
  constructor(capacity: number, what = 'notes', advice = 'wait for fates before sending more') {
    super(
      StatusCode.RESOURCE_EXHAUSTED,
      `the outbox is full (${capacity} ${what} waiting for a connection): ${advice}`,
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
  /** Takes `item` out wherever it is (a call cancelled while waiting); false when it was not there. */
  remove(item: T): boolean;
  /** Empties the outbox and returns what it held, oldest first. */
  drain(): T[];
  items(): readonly T[];
}

export function createOutbox<T>(
  capacity: number,
  full: (capacity: number) => OutboxFullError = (n) => new OutboxFullError(n),
): Outbox<T> {
  if (!(capacity >= 1)) throw new RangeError('the outbox capacity must be at least 1');
  let queue: T[] = [];
  return {
    get size() {
      return queue.length;
    },
    capacity,
    push(item) {
      if (queue.length >= capacity) throw full(capacity);
      queue.push(item);
    },
    requeue(items) {
      queue = [...items, ...queue];
    },
    shift: () => queue.shift(),
    peek: () => queue[0],
    remove(item) {
      const index = queue.indexOf(item);
      if (index >= 0) queue.splice(index, 1);
      return index >= 0;
    },
    drain() {
      const all = queue;
      queue = [];
      return all;
    },
    items: () => queue,
  };
}
