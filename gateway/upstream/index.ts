/** The gateway's upstream building blocks for several cores: the channel pool, target, load balancing, readiness. */
export * from './channel-pool.js';
export { type CoreTarget, coreTarget } from './core-target.js';
export { HEALTH_CHECKED_ROUND_ROBIN, healthCheckedRoundRobinOptions } from './health-checked-round-robin.js';
export { type CoreReadiness, createCoreReadiness } from './readiness.js';
