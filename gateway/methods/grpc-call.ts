/**
 * Any method of any kind as a `CallPort`, on a small pool of channels to the core. Every kind goes
 * out as a bidi HTTP/2 stream: on the wire the four kinds differ only in how many messages each
 * side sends, so one path serves them all (the stream machine half-closes after a unary request).
 * Messages cross as wire bytes; the codec turns them into JSON. The only v2 module importing grpc-js.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { SERVICE_NAME } from '../../proto/index.js';
import { type StatusCode, statusName } from '../../protocol/index.js';
import type { CallOpener, CallPort } from '../session/ports.js';
import { healthCheckedRoundRobinOptions } from '../upstream/index.js';

export interface MethodUpstreamOptions {
  /** `host:port` (or any grpc-js target) of the core. */
  readonly target: string;
  readonly maxStreamsPerChannel: number;
  readonly maxMessageBytes: number;
  readonly keepaliveMs: number;
  readonly caFile?: string;
}

export interface MethodUpstream extends CallOpener {
  stats(): { channels: number; activeCalls: number };
  close(): void;
}

interface Channel {
  readonly client: grpc.Client;
  active: number;
}

export function metadataRecord(metadata: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap()))
    out[key] = typeof value === 'string' ? value : Buffer.from(value).toString('base64');
  return out;
}

export function toGrpcMetadata(record: Readonly<Record<string, string>>): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(record))
    if (key.endsWith('-bin')) metadata.set(key, Buffer.from(value, 'base64'));
    else metadata.set(key, value);
  return metadata;
}

const serialize = (bytes: Uint8Array): Buffer =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const deserialize = (bytes: Buffer): Uint8Array => bytes;

export function createMethodUpstream(options: MethodUpstreamOptions): MethodUpstream {
  const credentials = options.caFile
    ? grpc.credentials.createSsl(readFileSync(options.caFile))
    : grpc.credentials.createInsecure();
  const channelOptions: grpc.ChannelOptions = {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_send_message_length': options.maxMessageBytes,
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.keepalive_time_ms': options.keepaliveMs,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.initial_reconnect_backoff_ms': 250,
    'grpc.max_reconnect_backoff_ms': 2_000,
    // The same health-checked balancing over the cores as v1's calls (see gateway/upstream/).
    ...healthCheckedRoundRobinOptions(SERVICE_NAME),
  };
  const channels: Channel[] = [];

  /** The least-loaded channel under the cap, or a new one: servers queue streams past ~100 silently. */
  const pickChannel = (): Channel => {
    let best: Channel | undefined;
    for (const channel of channels)
      if (channel.active < options.maxStreamsPerChannel && (!best || channel.active < best.active))
        best = channel;
    if (best) return best;
    const created: Channel = {
      client: new grpc.Client(options.target, credentials, channelOptions),
      active: 0,
    };
    channels.push(created);
    return created;
  };

  return {
    open(method, metadata, callOptions, handlers): CallPort {
      const channel = pickChannel();
      channel.active += 1;
      const call = channel.client.makeBidiStreamRequest(
        method.path,
        serialize,
        deserialize,
        toGrpcMetadata(metadata),
        callOptions.timeoutMs === undefined ? {} : { deadline: Date.now() + callOptions.timeoutMs },
      );
      let released = false;
      call.on('data', (bytes: Uint8Array) => handlers.onMessage(bytes));
      call.on('end', () => handlers.onReadEnd());
      // A non-OK status also arrives as 'error'; 'status' carries it whole.
      call.on('error', () => {});
      call.on('status', (status: grpc.StatusObject) => {
        if (!released) {
          released = true;
          channel.active -= 1;
        }
        handlers.onStatus({
          code: status.code as number as StatusCode,
          name: statusName(status.code),
          message: status.code === grpc.status.OK && status.details === 'OK' ? '' : status.details,
          metadata: metadataRecord(status.metadata),
        });
      });
      call.on('drain', () => handlers.onDrain());
      return {
        write: (bytes) => call.write(bytes),
        end: () => call.end(),
        cancel: () => call.cancel(),
        pause: () => call.pause(),
        resume: () => call.resume(),
      };
    },
    stats: () => ({ channels: channels.length, activeCalls: channels.reduce((sum, c) => sum + c.active, 0) }),
    close() {
      for (const channel of channels) channel.client.close();
      channels.length = 0;
    },
  };
}
