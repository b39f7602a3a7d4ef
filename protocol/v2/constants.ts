/**
 * Constants of the v2 contract: many gRPC calls of any method multiplexed on one WebSocket.
 * The gateway, the client library, the docs and the tests all take them from here.
 */

/** The WebSocket endpoint of protocol v2. */
export const V2_PATH = '/v2';
/** The subprotocol the gateway selects on /v2 when a client offers it. */
export const V2_SUBPROTOCOL = 'gateway.v2';
/**
 * The same protocol with binary message frames (binary-frames.ts): protobuf bytes, no JSON for the
 * payload. Selected on /v2 when a client offers it; same streams, limits and credit.
 */
export const V2_BINARY_SUBPROTOCOL = 'gateway.v2.binary';

/**
 * A stream id is chosen by the client: 1 to 64 code points of well-formed text (no lone surrogate)
 * without control characters (no C0, DEL or C1), so it can be echoed back and logged as it is.
 */
export const MAX_STREAM_ID_LENGTH = 64;
/** The longest method name accepted in an `open` frame (`package.Service/Method`). */
export const MAX_METHOD_NAME_LENGTH = 256;
/**
 * The longest `timeoutMs` accepted: about 24.8 days. gRPC sends a timeout this long in whole
 * seconds, rounded up, and a Node server's timer cannot wait past 2^31 - 1 ms (it would fire at
 * once): 2^31 - 1 itself reached the core as 2,147,484 s and failed DEADLINE_EXCEEDED at once.
 */
export const MAX_TIMEOUT_MS = 2_147_483_000;
/** Metadata entries an `open` frame may carry; more: the open is refused INVALID_ARGUMENT. */
export const MAX_OPEN_METADATA_ENTRIES = 64;
/**
 * Bytes of metadata (keys and values, UTF-16 code units) an `open` frame may carry; more: the open
 * is refused INVALID_ARGUMENT. 8 KiB is gRPC's usual bound on a request's whole header list.
 */
export const MAX_OPEN_METADATA_BYTES = 8 * 1024;

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
/**
 * Open server-streaming calls (`NoteFeed/Watch`, `ListFeatures`: calls the server may keep open
 * for as long as it likes) per socket and per client address by default; one more `open` gets
 * RESOURCE_EXHAUSTED, so one address cannot take every watcher slot of the cores.
 */
export const DEFAULT_MAX_SERVER_STREAMS_PER_SOCKET = 16;
export const DEFAULT_MAX_SERVER_STREAMS_PER_IP = 64;
