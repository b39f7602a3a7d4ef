// Original file: proto/note_feed.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { Rectangle as _routeguide_Rectangle, Rectangle__Output as _routeguide_Rectangle__Output } from '../routeguide/Rectangle.js';
import type { RouteNote as _routeguide_RouteNote, RouteNote__Output as _routeguide_RouteNote__Output } from '../routeguide/RouteNote.js';

export interface NoteFeedClient extends grpc.Client {
  Watch(argument: _routeguide_Rectangle, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_routeguide_RouteNote__Output>;
  Watch(argument: _routeguide_Rectangle, options?: grpc.CallOptions): grpc.ClientReadableStream<_routeguide_RouteNote__Output>;
  watch(argument: _routeguide_Rectangle, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_routeguide_RouteNote__Output>;
  watch(argument: _routeguide_Rectangle, options?: grpc.CallOptions): grpc.ClientReadableStream<_routeguide_RouteNote__Output>;
  
}

export interface NoteFeedHandlers extends grpc.UntypedServiceImplementation {
  Watch: grpc.handleServerStreamingCall<_routeguide_Rectangle__Output, _routeguide_RouteNote>;
  
}

export interface NoteFeedDefinition extends grpc.ServiceDefinition {
  Watch: MethodDefinition<_routeguide_Rectangle, _routeguide_RouteNote, _routeguide_Rectangle__Output, _routeguide_RouteNote__Output>
}
