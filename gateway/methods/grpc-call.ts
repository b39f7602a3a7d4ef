/**
 * Any method of any kind as a `CallOpener`, on the gateway's channel pool (upstream/channel-pool.ts,
 * shared with v1): every kind goes out as a bidi HTTP/2 stream, the stream machine half-closes after
 * a unary request. Messages cross as wire bytes; the codec turns them into JSON.
 */

import type { CallOpener } from '../session/ports.js';
import type { ChannelPool } from '../upstream/channel-pool.js';

/** grpc-js writes Buffers; a codec that made one already (v1's) is passed as it is, others get a view, no copy. */
const serialize = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const deserialize = (bytes: Buffer): Uint8Array => bytes;

export function createMethodUpstream(pool: ChannelPool): CallOpener {
  return {
    open: (method, metadata, callOptions, handlers) =>
      pool.call({ path: method.path, serialize, deserialize }, metadata, callOptions, handlers),
  };
}
