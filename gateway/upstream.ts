/**
 * The only gateway module that speaks gRPC (with its helpers in `upstream/`). A small pool of
 * channels to the cores: a new channel is opened when every existing one carries
 * `maxStreamsPerChannel` calls, because many servers cap HTTP/2 concurrent streams (often at 100)
 * and queue the excess silently. Each channel balances its calls over every serving core with
 * `health_checked_round_robin` (see upstream/), so it holds one connection per core. Method
 * definitions come from the proto descriptor, so other methods and services can be relayed the same
 * way later.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { packageDefinition, type RouteNote, type RouteNote__Output, SERVICE_NAME } from '../proto/index.js';
import { type CallStatus, type NoteFrame, type RouteNoteJson, StatusCode } from '../protocol/index.js';
import { toClientStatus } from './core-status.js';
import type { RelayCall } from './relay.js';
import { createTokenBucket, type TokenBucket } from './token-bucket.js';
import { createCoreReadiness, healthCheckedRoundRobinOptions } from './upstream/index.js';

export interface UpstreamOptions {
  /** gRPC target of the cores: `host:port` (a DNS name may resolve to several), or `ipv4:a:p,b:p` (see upstream/core-target.ts). */
  readonly target: string;
  /** Health service name each core is watched with; default the RouteGuide service. */
  readonly healthService?: string;
  readonly maxStreamsPerChannel: number;
  readonly maxMessageBytes: number;
  readonly keepaliveMs: number;
  /** PEM CA file: reach the core over TLS. */
  readonly caFile?: string;
}

export interface UpstreamHandlers {
  onNote(note: NoteFrame): void;
  onReadEnd(): void;
  /** `hiddenDetail`: what the transport said, kept from the client (see core-status.ts); for the log. */
  onStatus(status: CallStatus, hiddenDetail?: string): void;
  onDrain(): void;
}

export interface Upstream {
  /** Starts a RouteChat call; its events go to `handlers`. Never throws: failures arrive as a status. */
  openRouteChat(metadata: Readonly<Record<string, string>>, handlers: UpstreamHandlers): RelayCall;
  /** true when at least one core is connected and its health watch says SERVING. */
  checkHealth(timeoutMs: number): Promise<boolean>;
  stats(): { channels: number; activeCalls: number };
  close(): void;
}

const routeChatMethod = packageDefinition[SERVICE_NAME] as grpc.ServiceDefinition;
const {
  path: ROUTE_CHAT_PATH,
  requestSerialize,
  responseDeserialize,
} = routeChatMethod.RouteChat as grpc.MethodDefinition<RouteNote, RouteNote__Output>;

interface Channel {
  readonly client: grpc.Client;
  active: number;
  /** The peer's rapid-reset allowance left on this connection (see RESET_BUDGET). */
  readonly resets: TokenBucket;
  /** No new calls: closed once its last call ends. */
  retired: boolean;
}

/**
 * Each cancelled call is an RST_STREAM, and HTTP/2 servers bound how fast a client may send them
 * (CVE-2023-44487, "rapid reset"): nghttp2, under Node's http2 and so grpc-js servers, allows a burst
 * of 1000 then 33/s, and past it kills the whole connection, failing every other stream on it with
 * INTERNAL. Churning clients cancel calls faster than that, so a channel is retired (no new calls)
 * while the allowance left still covers a cancel of every call it carries.
 */
const RESET_BUDGET = { burst: 1000, perSecond: 33, retireBelow: 250 };

function metadataToRecord(metadata: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    out[key] = typeof value === 'string' ? value : Buffer.from(value).toString('base64');
  }
  return out;
}

/**
 * Texts grpc-js gives the statuses it makes itself once a call has the core's response headers (a
 * dropped connection, a reset stream, a message it could not read or send; for a reset socket it
 * passes Node's own error text, e.g. "read ECONNRESET"). grpc-js marks a status with no origin, so
 * these are recognised by its own words.
 */
const GRPC_JS_STREAM_FAILURE =
  /^(Connection dropped|Received RST_STREAM|Received HTTP status code|Stream closed before sending status|No status information received|Failed to |Response message parsing error|Received message (larger|that decompresses|compressed)|Write (error|failed)|Deadline exceeded|Cancelled on client)|^(read|write|connect) E[A-Z]+\b/;

/**
 * A status is the core's when it came in the core's trailers: the call had the core's response
 * headers, or the status is a Trailers-Only response (its metadata has the response's content-type;
 * grpc-js builds its own statuses with empty metadata), and it is none of grpc-js's own texts.
 */
const isFromCore = (status: grpc.StatusObject, headersSeen: boolean, metadata: Record<string, string>) =>
  (headersSeen || 'content-type' in metadata) && !GRPC_JS_STREAM_FAILURE.test(status.details);

/** A decoded note with every field present, as the contract sends it. */
const toNoteFrame = (note: RouteNote__Output): NoteFrame => ({
  location: { latitude: note.location?.latitude ?? 0, longitude: note.location?.longitude ?? 0 },
  message: note.message,
});

export function createUpstream(options: UpstreamOptions): Upstream {
  const credentials = options.caFile
    ? grpc.credentials.createSsl(readFileSync(options.caFile))
    : grpc.credentials.createInsecure();
  const channelOptions: grpc.ChannelOptions = {
    // Each pool member must own its HTTP/2 connection; grpc-js otherwise shares one subchannel.
    'grpc.use_local_subchannel_pool': 1,
    'grpc.max_send_message_length': options.maxMessageBytes,
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.keepalive_time_ms': options.keepaliveMs,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    // Notice a restarted core within seconds, not after grpc-js's default 120 s backoff ceiling.
    'grpc.initial_reconnect_backoff_ms': 250,
    'grpc.max_reconnect_backoff_ms': 2_000,
    ...healthCheckedRoundRobinOptions(options.healthService ?? SERVICE_NAME),
  };
  const channels: Channel[] = [];
  const readiness = createCoreReadiness(options.target, credentials, channelOptions);

  const pickChannel = (): Channel => {
    let best: Channel | undefined;
    for (const channel of channels)
      if (
        !channel.retired &&
        channel.active < options.maxStreamsPerChannel &&
        (!best || channel.active < best.active)
      )
        best = channel;
    if (best) return best;
    const created: Channel = {
      client: new grpc.Client(options.target, credentials, channelOptions),
      active: 0,
      resets: createTokenBucket(RESET_BUDGET.perSecond, RESET_BUDGET.burst, performance.now()),
      retired: false,
    };
    channels.push(created);
    return created;
  };

  const release = (channel: Channel) => {
    channel.active -= 1;
    if (channel.retired && channel.active === 0) {
      channel.client.close();
      const index = channels.indexOf(channel);
      if (index >= 0) channels.splice(index, 1);
    }
  };

  const noteReset = (channel: Channel) => {
    const now = performance.now();
    channel.resets.take(now);
    if (channel.resets.available(now) < Math.max(RESET_BUDGET.retireBelow, options.maxStreamsPerChannel * 2))
      channel.retired = true;
  };

  return {
    openRouteChat(headers, handlers) {
      const metadata = new grpc.Metadata();
      for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
      const channel = pickChannel();
      channel.active += 1;
      const call = channel.client.makeBidiStreamRequest(
        ROUTE_CHAT_PATH,
        requestSerialize,
        responseDeserialize,
        metadata,
        {},
      );
      let released = false;
      let headersSeen = false;
      let cancelledByGateway = false;
      call.on('metadata', () => {
        headersSeen = true;
      });
      call.on('data', (note: RouteNote__Output) => handlers.onNote(toNoteFrame(note)));
      call.on('end', () => handlers.onReadEnd());
      // A non-OK status also arrives as 'error'; 'status' carries it whole, so errors are only observed here.
      call.on('error', () => {});
      call.on('status', (status: grpc.StatusObject) => {
        if (!released) {
          released = true;
          release(channel);
        }
        if (cancelledByGateway) {
          // Nobody waits for it: the relay cancelled the call and has finished already.
          handlers.onStatus({
            code: StatusCode.CANCELLED,
            name: 'CANCELLED',
            message: 'cancelled',
            metadata: {},
          });
          return;
        }
        const metadata = metadataToRecord(status.metadata);
        const { status: clientStatus, hiddenDetail } = toClientStatus({
          code: status.code,
          details: status.details,
          metadata,
          fromCore: isFromCore(status, headersSeen, metadata),
        });
        handlers.onStatus(clientStatus, hiddenDetail);
      });
      call.on('drain', () => handlers.onDrain());
      return {
        write: (note: RouteNoteJson) => call.write(note),
        end: () => call.end(),
        cancel: () => {
          cancelledByGateway = true;
          if (!released) noteReset(channel);
          call.cancel();
        },
        pause: () => call.pause(),
        resume: () => call.resume(),
      };
    },

    checkHealth: (timeoutMs) => readiness.check(timeoutMs),

    stats: () => ({ channels: channels.length, activeCalls: channels.reduce((sum, c) => sum + c.active, 0) }),

    close() {
      for (const channel of channels) channel.client.close();
      channels.length = 0;
      readiness.close();
    },
  };
}
