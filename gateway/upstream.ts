/**
 * v1's upstream: RouteChat calls on the gateway's channel pool (upstream/channel-pool.ts, the only
 * module that speaks gRPC), typed as RouteNotes. The pool, its health-checked balancing, rapid-reset
 * retirement and status rules are shared with v2's calls of any method.
 */
import type * as grpc from '@grpc/grpc-js';
import { packageDefinition, type RouteNote, type RouteNote__Output, SERVICE_NAME } from '../proto/index.js';
import type { CallStatus, NoteFrame } from '../protocol/index.js';
import type { RelayCall } from './relay.js';
import type { ChannelPool, PoolMethod, PoolStats } from './upstream/channel-pool.js';

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
  /** The whole pool's channels and calls (v1 and v2). */
  stats(): PoolStats;
  /** Closes the pool: one gateway, one close. */
  close(): void;
}

/** A decoded note with every field present, as the contract sends it. */
const toNoteFrame = (note: RouteNote__Output): NoteFrame => ({
  location: { latitude: note.location?.latitude ?? 0, longitude: note.location?.longitude ?? 0 },
  message: note.message,
});

const routeChatDefinition = (packageDefinition[SERVICE_NAME] as grpc.ServiceDefinition)
  .RouteChat as grpc.MethodDefinition<RouteNote, RouteNote__Output>;
const routeChat: PoolMethod<RouteNote, RouteNote__Output> = {
  path: routeChatDefinition.path,
  serialize: routeChatDefinition.requestSerialize,
  deserialize: routeChatDefinition.responseDeserialize,
};

export function createUpstream(pool: ChannelPool): Upstream {
  return {
    openRouteChat(metadata, handlers) {
      return pool.call(
        routeChat,
        metadata,
        {},
        {
          onMessage: (note) => handlers.onNote(toNoteFrame(note)),
          onReadEnd: () => handlers.onReadEnd(),
          onStatus: (status, hiddenDetail) => handlers.onStatus(status, hiddenDetail),
          onDrain: () => handlers.onDrain(),
        },
      );
    },
    checkHealth: (timeoutMs) => pool.checkHealth(timeoutMs),
    stats: () => pool.stats(),
    close: () => pool.close(),
  };
}
