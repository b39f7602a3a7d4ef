/** The RouteChat WebSocket client library: what browser pages, the CLI and scripts import. */

export { GatewayError } from '../../protocol/common/errors.js';
export { StatusCode } from '../../protocol/common/status.js';
export type {
  CallStatus,
  ErrorDetail,
  ErrorFrame,
  NoteFrame,
  RouteNoteInput,
  RouteNoteJson,
  StatusName,
} from '../../protocol/index.js';
export type { ErrorFrameV2 } from '../../protocol/v2/index.js';
export type { Clock } from './clock.js';
export { statusForClose, statusForHttpStatus } from './close-status.js';
export { type FateName, noteKey } from './fates.js';
export {
  type Call,
  type CallEvents as GatewayCallEvents,
  type CallOptions as GatewayCallOptions,
  FrameRejectedError,
  GatewayClient,
  type GatewayClientEvents,
  type GatewayClientOptions,
  type GatewayClientState,
  type MethodMap,
  type MethodsOf,
  type MethodTypes,
  type NoteFeedMethods,
  type Proto3Json,
  type RouteGuideMethods,
} from './gateway-client.js';
export type { NoteErrorFrame, NoteTransport } from './note-transport.js';
export { OutboxFullError } from './outbox.js';
export {
  backoffDelay,
  isRetryable,
  parseRetryAfter,
  type ReconnectOptions,
  retryHorizonMs,
  type StreamEnding,
} from './reconnect.js';
export { RouteChatSocket } from './route-chat-socket.js';
export type {
  CloseOutcome,
  ConnectionState,
  LegacyRouteChatOverV2Options,
  NoteFate,
  RouteChatEvents,
  RouteChatOverOptions,
  RouteChatSessionOptions,
  RouteChatSocketOptions,
} from './route-chat-types.js';
export type { TokenSource } from './token.js';
export type { Listener } from './typed-events.js';
export { routeChatOverV2, type WithRouteChat } from './v2-note-transport.js';
export type { WebSocketConstructor, WebSocketLike } from './web-socket-like.js';
