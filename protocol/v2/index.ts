/** The v2 contract: any method of any service, many streams over one WebSocket. */

export * from './binary-frames.js';
export * from './constants.js';
export * from './frames.js';
export * from './metadata.js';
export * from './parse-frame.js';
