/** The RouteChat WebSocket client library: what browser pages, the CLI and scripts import. */
export type {
  CallStatus,
  ErrorDetail,
  ErrorFrame,
  NoteFrame,
  RouteNoteInput,
  StatusName,
} from '../../protocol/index.js';
export { GatewayError, StatusCode } from '../../protocol/status.js';
export { statusForClose, statusForHttpStatus } from './close-status.js';
export {
  type Call,
  type CallOptions as GatewayCallOptions,
  GatewayClient,
  type GatewayClientOptions,
  type MethodMap,
  type Proto3Json,
  type RouteGuideMethods,
} from './gateway-client.js';
export {
  type CloseOutcome,
  type ConnectionState,
  type ReconnectOptions,
  type RouteChatEvents,
  RouteChatSocket,
  type RouteChatSocketOptions,
} from './route-chat-socket.js';
export type { Listener } from './typed-events.js';
export type { WebSocketConstructor, WebSocketLike } from './web-socket-like.js';
