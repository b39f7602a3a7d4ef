/**
 * What v1 and v2 share: status codes, close codes, error details, JSON bounds, string and metadata
 * rules, and the metadata of idempotent notes.
 */
export * from './close-codes.js';
export * from './error-details.js';
export * from './errors.js';
export * from './json.js';
export * from './metadata.js';
export * from './note-session.js';
export * from './status.js';
export * from './strings.js';
