/** Gateway flags shared by the bench and the profiler. */

/**
 * The gateway as the bench runs it: defaults everywhere except the limits meant for hostile clients,
 * which a load test from one address would trip by design: the per-connection rate limit (200 frames/s
 * by default, which would cap each connection, not measure the relay) and the connection caps
 * (100 per address, 10,000 in all).
 */
export const BENCH_GATEWAY_ARGS = [
  '--shutdown-grace',
  '1s',
  '--rate-limit',
  '0',
  '--max-connections',
  '20000',
  '--max-connections-per-ip',
  '20000',
] as const;
