/**
 * The wire contract every client and the gateway share: what v1 and v2 have in common, and the v1
 * RouteChat frames. v2's frames are their own entry, `./v2/index.js`, since their names overlap v1's.
 */
export * from './common/index.js';
export * from './v1/index.js';
