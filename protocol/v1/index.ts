/** The v1 contract: one RouteChat per WebSocket, JSON notes. */
export * from './frames.js';
export * from './parse-frame.js';
