/**
 * The per-connection rate rule, shared by v1's and v2's connections: over `rateLimit`
 * frames/s, reading pauses until the client is back within its rate (backpressure); still over it
 * after `floodGraceMs` is a flood, which the caller ends with 1008. Time comes from the caller's clock.
 */

import { createTokenBucket } from '../../common/token-bucket.js';
import type { Clock } from './ports.js';

export interface ReadThrottleLimits {
  /** Frames per second; 0 disables the throttle. */
  readonly rateLimit: number;
  readonly rateBurst: number;
  readonly floodGraceMs: number;
}

export interface ReadThrottle {
  /** Reading is paused for the rate. */
  readonly paused: boolean;
  /** Charges one frame at `now`: false when it is a flood (the caller closes the connection). */
  charge(now: number): boolean;
  /** The connection is over: no timer left; true when reading was paused by the throttle. */
  stop(): boolean;
}

/**
 * `pause`/`resume` stop and restart reading the socket; `resume` runs only when the wait is over
 * and the throttle was not stopped (the caller decides whether something else still holds it).
 */
export function createReadThrottle(
  limits: ReadThrottleLimits,
  clock: Clock,
  pause: () => void,
  resume: () => void,
): ReadThrottle {
  const bucket =
    limits.rateLimit > 0 ? createTokenBucket(limits.rateLimit, limits.rateBurst, clock.now()) : undefined;
  /** Since when the client has kept the bucket from refilling (undefined: it is within its rate). */
  let throttledSince: number | undefined;
  let paused = false;
  let timer: unknown;
  return {
    get paused() {
      return paused;
    },
    charge(now) {
      if (!bucket) return true;
      const waitMs = bucket.take(now);
      if (waitMs === 0 && bucket.available(now) >= limits.rateBurst / 2) {
        throttledSince = undefined;
        return true;
      }
      throttledSince ??= now;
      if (now - throttledSince > limits.floodGraceMs) return false;
      if (waitMs > 0 && !paused) {
        paused = true;
        pause();
        timer = clock.setTimeout(() => {
          timer = undefined;
          paused = false;
          resume();
        }, waitMs);
      }
      return true;
    },
    stop() {
      if (timer !== undefined) clock.clearTimeout(timer);
      timer = undefined;
      const was = paused;
      paused = false;
      return was;
    },
  };
}
