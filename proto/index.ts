/**
 * The one place that loads `route_guide.proto` (and `note_feed.proto`, which imports it). The core
 * server, the gateway and the native client all take the service definitions and the message types
 * from here; the WebSocket client library takes only the message types, from `./messages.js`.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/note_feed.js';

export type {
  NoteFeedClient,
  NoteFeedDefinition,
  NoteFeedHandlers,
} from './generated/routeguide/NoteFeed.js';
export type {
  RouteGuideClient,
  RouteGuideDefinition,
  RouteGuideHandlers,
} from './generated/routeguide/RouteGuide.js';
export type {
  Feature,
  Feature__Output,
  Point,
  Point__Output,
  Rectangle,
  Rectangle__Output,
  RouteNote,
  RouteNote__Output,
  RouteSummary,
  RouteSummary__Output,
} from './messages.js';

export const PROTO_PATH = fileURLToPath(new URL('./route_guide.proto', import.meta.url));
/** The live-notes service; it imports `route_guide.proto` by that name, so load it with `includeDirs`. */
export const NOTE_FEED_PROTO_PATH = fileURLToPath(new URL('./note_feed.proto', import.meta.url));
const PROTO_DIR = fileURLToPath(new URL('.', import.meta.url));

/** The options the official Node example uses; `defaults` makes every decoded field present. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

export const SERVICE_NAME = 'routeguide.RouteGuide';
export const ROUTE_CHAT_METHOD = `/${SERVICE_NAME}/RouteChat`;
export const NOTE_FEED_SERVICE_NAME = 'routeguide.NoteFeed';
export const WATCH_METHOD = `/${NOTE_FEED_SERVICE_NAME}/Watch`;
/**
 * A health-check name (grpc.health.v1) for the core's note store alone: SERVING while the store is
 * reachable. The core's own status ("" and its services) is NOT_SERVING for any cause (the store
 * down, a drain); this one tells a gateway whether the store is the cause.
 */
export const NOTE_STORE_HEALTH_NAME = 'routeguide.NoteStore';

// Loaded by names relative to proto/, as `protoc -I proto` would, so that note_feed.proto's
// `import "route_guide.proto"` resolves. Reflection serves both services from this definition.
export const packageDefinition = protoLoader.loadSync(['route_guide.proto', 'note_feed.proto'], {
  ...LOADER_OPTIONS,
  includeDirs: [PROTO_DIR],
});

const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as ProtoGrpcType;

/**
 * The `routeguide` package: `RouteGuide` is the client constructor, `RouteGuide.service` its
 * definition; `NoteFeed` likewise.
 */
export const routeguide = loaded.routeguide;
