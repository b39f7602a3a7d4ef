/** The v1 RouteChat WebSocket contract: what the gateway and every client share. */
export * from './close-codes.js';
export * from './frames.js';
export * from './metadata.js';
export * from './parse-frame.js';
export * from './status.js';
export * from './strings.js';
