/** Everything from "open a call" down: the call types, the channel pool, balancing and health over the cores, the core status. */
export * from './calls.js';
export * from './channel-pool.js';
export { type CoreTarget, coreTarget } from './core-target.js';
export { HEALTH_CHECKED_ROUND_ROBIN, healthCheckedRoundRobinOptions } from './health-checked-round-robin.js';
export { type CoreReadiness, createCoreReadiness } from './readiness.js';
export * from './upstream.js';
