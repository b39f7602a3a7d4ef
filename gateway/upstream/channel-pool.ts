/**
 * The gateway's one pool of HTTP/2 channels to the cores, shared by v1's RouteChat calls and v2's
 * calls of any method, so one gateway holds one set of connections. A new channel is opened when
 * every existing one carries `maxStreamsPerChannel` calls, because many servers cap HTTP/2
 * concurrent streams (often at 100) and queue the excess silently. Each channel balances its calls
 * over every serving core with `health_checked_round_robin` (see health-checked-round-robin.ts), so
 * it holds one connection per core. Every call goes out as a bidi HTTP/2 stream (on the wire the four
 * kinds differ only in how many messages each side sends). A call's final status is classified here
 * (the core's, or one grpc-js made) and turned into what a client sees by core-status.ts.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { createTokenBucket, type TokenBucket } from '../../common/token-bucket.js';
import { SERVICE_NAME } from '../../proto/index.js';
import {
  type CallStatus,
  http2RequestHeaderProblem,
  StatusCode,
  trailerMetadata,
} from '../../protocol/common/index.js';
import {
  CANCELLED_BY_GATEWAY,
  type CallHandlers,
  type CallOptions,
  type CallPort,
  failedCall,
} from './calls.js';
import { type CoreReport, createCoreDiagnosis } from './core-diagnosis.js';
import { toClientStatus } from './core-status.js';
import { healthCheckedRoundRobinOptions } from './health-checked-round-robin.js';
import { createCoreReadiness } from './readiness.js';

export interface ChannelPoolOptions {
  /** gRPC target of the cores: `host:port` (a DNS name may resolve to several), or `ipv4:a:p,b:p` (see core-target.ts). */
  readonly target: string;
  /** Health service name each core is watched with; default the RouteGuide service. */
  readonly healthService?: string;
  readonly maxStreamsPerChannel: number;
  readonly maxMessageBytes: number;
  readonly keepaliveMs: number;
  /** PEM CA file: reach the core over TLS. */
  readonly caFile?: string;
}

/** How one method's messages cross: its path and its (de)serializer. */
export interface PoolMethod<Req, Res> {
  readonly path: string;
  readonly serialize: (message: Req) => Buffer;
  readonly deserialize: (bytes: Buffer) => Res;
}

export interface PoolStats {
  readonly channels: number;
  readonly activeCalls: number;
}

export interface ChannelPool {
  /** Starts a call on the least-loaded channel; never throws for a failure of the core: it arrives as a status. */
  call<Req, Res>(
    method: PoolMethod<Req, Res>,
    metadata: Readonly<Record<string, string>>,
    options: CallOptions,
    handlers: CallHandlers<Res>,
  ): CallPort<Req>;
  /** true when at least one core is connected and its health watch says SERVING. */
  checkHealth(timeoutMs: number): Promise<boolean>;
  /** Each core asked directly why it is (not) serving (core-diagnosis.ts). */
  diagnoseCores(timeoutMs: number): Promise<readonly CoreReport[]>;
  stats(): PoolStats;
  close(): void;
}

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
export const RESET_BUDGET = { burst: 1000, perSecond: 33, retireBelow: 250 };

/** Every key and value of gRPC metadata; binary (`-bin`) values base64-encoded. */
export function metadataRecord(metadata: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap()))
    out[key] = typeof value === 'string' ? value : Buffer.from(value).toString('base64');
  return out;
}

/** gRPC metadata from a record; `-bin` values are base64 on our side and bytes on the wire. */
export function toGrpcMetadata(record: Readonly<Record<string, string>>): grpc.Metadata {
  const metadata = new grpc.Metadata();
  for (const [key, value] of Object.entries(record))
    if (key.endsWith('-bin')) metadata.set(key, Buffer.from(value, 'base64'));
    else metadata.set(key, value);
  return metadata;
}

/**
 * Texts grpc-js gives the statuses it makes itself once a call has the core's response headers (a
 * dropped connection, a reset stream, a message it could not read or send; for a reset socket it
 * passes Node's own error text, e.g. "read ECONNRESET"). grpc-js marks a status with no origin, so
 * these are recognised by its own words.
 */
const GRPC_JS_STREAM_FAILURE =
  /^(Connection dropped|Received RST_STREAM|Received HTTP status code|Stream closed before sending status|No status information received|Failed to |Response message parsing error|Request message serialization failure|Protocol error|Stream refused|Received message (larger|that decompresses|compressed)|Sent message larger than max|Write (error|failed)|Deadline exceeded|Cancelled on client)|^(read|write|connect) E[A-Z]+\b/;

/**
 * A status is the core's when it came in the core's trailers: the call had the core's response
 * headers, or the status is a Trailers-Only response (its metadata has the response's content-type;
 * grpc-js builds its own statuses with empty metadata), and it is none of grpc-js's own texts.
 */
const isFromCore = (status: grpc.StatusObject, headersSeen: boolean, metadata: Record<string, string>) =>
  (headersSeen || 'content-type' in metadata) && !GRPC_JS_STREAM_FAILURE.test(status.details);

/** Why HTTP/2 would refuse this metadata as request headers, or undefined when it would not. */
export function requestMetadataProblem(metadata: Readonly<Record<string, string>>): string | undefined {
  for (const [key, value] of Object.entries(metadata)) {
    const problem = http2RequestHeaderProblem(key, value);
    if (problem) return problem;
  }
  return undefined;
}

const METADATA_REFUSED: CallStatus = {
  code: StatusCode.INTERNAL,
  name: 'INTERNAL',
  message: 'metadata the HTTP/2 transport refuses',
  metadata: {},
};

export function createChannelPool(options: ChannelPoolOptions): ChannelPool {
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
  const diagnosis = createCoreDiagnosis(options.target, credentials, channelOptions);

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
    call<Req, Res>(
      method: PoolMethod<Req, Res>,
      metadata: Readonly<Record<string, string>>,
      callOptions: CallOptions,
      handlers: CallHandlers<Res>,
    ): CallPort<Req> {
      // Headers HTTP/2 refuses make grpc-js drop the channel's whole session, with every other call on
      // it (and re-send the bad call on each reconnect): such a call fails alone, before any channel.
      const refused = requestMetadataProblem(metadata);
      if (refused) return failedCall(handlers, METADATA_REFUSED, refused);
      let grpcMetadata: grpc.Metadata;
      try {
        grpcMetadata = toGrpcMetadata(metadata);
      } catch (error) {
        return failedCall(handlers, METADATA_REFUSED, (error as Error).message);
      }
      const channel = pickChannel();
      channel.active += 1;
      const call = channel.client.makeBidiStreamRequest(
        method.path,
        method.serialize,
        method.deserialize,
        grpcMetadata,
        callOptions.timeoutMs === undefined ? {} : { deadline: Date.now() + callOptions.timeoutMs },
      );
      let released = false;
      let headersSeen = false;
      let cancelledByGateway = false;
      call.on('metadata', (headers: grpc.Metadata) => {
        headersSeen = true;
        handlers.onHeaders?.(trailerMetadata(metadataRecord(headers)));
      });
      call.on('data', (message: Res) => handlers.onMessage(message));
      call.on('end', () => handlers.onReadEnd());
      // A non-OK status also arrives as 'error'; 'status' carries it whole, so errors are only observed here.
      call.on('error', () => {});
      /** The call's slot on the channel, given back once; `resetSent`: the call's end reset its stream. */
      const releaseOnce = (resetSent: boolean) => {
        if (released) return;
        released = true;
        if (resetSent) noteReset(channel);
        release(channel);
      };
      call.on('status', (status: grpc.StatusObject) => {
        // Nobody waits for it: whoever cancelled the call has finished already (and counted its reset).
        if (cancelledByGateway) {
          releaseOnce(false);
          return handlers.onStatus(CANCELLED_BY_GATEWAY);
        }
        const trailers = metadataRecord(status.metadata);
        const fromCore = isFromCore(status, headersSeen, trailers);
        // A deadline that expires here resets the stream on the core: it spends the rapid-reset
        // allowance like a cancel (1,300 expiries in 9 s killed a shared connection before).
        releaseOnce(status.code === grpc.status.DEADLINE_EXCEEDED && !fromCore);
        const { status: clientStatus, hiddenDetail } = toClientStatus({
          code: status.code,
          details: status.details,
          metadata: trailers,
          fromCore,
        });
        handlers.onStatus(clientStatus, hiddenDetail);
      });
      call.on('drain', () => handlers.onDrain());
      return {
        write: (message) => call.write(message),
        end: () => call.end(),
        cancel: () => {
          if (cancelledByGateway) return;
          cancelledByGateway = true;
          if (!released) noteReset(channel);
          // grpc-js 1.14 starts a call's HTTP/2 stream in a promise callback that does not check
          // whether the call was cancelled meanwhile: a cancel in the tick the call was made reports
          // CANCELLED here, but the stream still opens on the core and is never reset. A client
          // sending open+cancel in one write filled the core's stream limit that way (1,000 orphans,
          // every call through the gateway hung). After setImmediate the call has its stream.
          setImmediate(() => call.cancel());
        },
        pause: () => call.pause(),
        resume: () => call.resume(),
      };
    },

    checkHealth: (timeoutMs) => readiness.check(timeoutMs),

    diagnoseCores: (timeoutMs) => diagnosis.diagnose(timeoutMs),

    stats: () => ({ channels: channels.length, activeCalls: channels.reduce((sum, c) => sum + c.active, 0) }),

    close() {
      for (const channel of channels) channel.client.close();
      channels.length = 0;
      readiness.close();
      diagnosis.close();
    },
  };
}
