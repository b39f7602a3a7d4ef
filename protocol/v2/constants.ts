/**
 * Constants of the v2 contract: many gRPC calls of any method multiplexed on one WebSocket.
 * The gateway, the client library, the docs and the tests all take them from here.
 */

/** The WebSocket endpoint of protocol v2. */
export const V2_PATH = '/v2';
/** The subprotocol the gateway selects on /v2 when a client offers it. */
export const V2_SUBPROTOCOL = 'gateway.v2';

/** A stream id is a string of 1 to 64 characters chosen by the client. */
export const MAX_STREAM_ID_LENGTH = 64;
/** The longest method name accepted in an `open` frame (`package.Service/Method`). */
export const MAX_METHOD_NAME_LENGTH = 256;
/** The longest `timeoutMs` accepted: about 24.8 days, the most a timer can wait. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** Metadata entries an `open` frame may carry. */
export const MAX_OPEN_METADATA_ENTRIES = 64;

/**
 * Messages a client may send on a new stream before it sees any `credit` frame. Each message
 * uses one; `credit` frames give more back as the upstream call takes them. At least 16, so a
 * simple client that keeps a few messages in flight never has to read credit frames.
 */
export const INITIAL_STREAM_CREDIT = 32;

/** Frames naming no valid stream tolerated on one socket before it is closed with 1008. */
export const DEFAULT_MAX_SOCKET_REJECTIONS = 20;
/** Rejected frames tolerated on one stream before that stream (only) ends. */
export const DEFAULT_MAX_STREAM_REJECTIONS = 20;
/** Open streams per socket by default; one more `open` gets RESOURCE_EXHAUSTED. */
export const DEFAULT_MAX_STREAMS_PER_SOCKET = 100;
