/** A token bucket: `rate` tokens per second, holding at most `burst`. Pure; time is passed in. */
export interface TokenBucket {
  /** Takes one token at `nowMs`; returns 0 when one was available, else ms until the next one. */
  take(nowMs: number): number;
  /** Tokens available at `nowMs` (for flood detection). */
  available(nowMs: number): number;
}

export function createTokenBucket(rate: number, burst: number, nowMs: number): TokenBucket {
  let tokens = burst;
  let last = nowMs;
  const refill = (now: number) => {
    tokens = Math.min(burst, tokens + ((now - last) * rate) / 1000);
    last = now;
  };
  return {
    take(now) {
      refill(now);
      // The frame is already here and is processed either way; going negative records the debt so
      // the wait that follows is long enough to bring the client back to its rate.
      tokens -= 1;
      return tokens >= 0 ? 0 : Math.ceil((-tokens * 1000) / rate);
    },
    available(now) {
      refill(now);
      return tokens;
    },
  };
}
