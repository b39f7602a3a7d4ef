/**
 * The one place that loads `route_guide.proto`. The core server, the gateway and the native
 * client all take the service definition and the message types from here.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './generated/route_guide.js';

export type { Feature, Feature__Output } from './generated/routeguide/Feature.js';
export type { Point, Point__Output } from './generated/routeguide/Point.js';
export type { Rectangle, Rectangle__Output } from './generated/routeguide/Rectangle.js';
export type {
  RouteGuideClient,
  RouteGuideDefinition,
  RouteGuideHandlers,
} from './generated/routeguide/RouteGuide.js';
export type { RouteNote, RouteNote__Output } from './generated/routeguide/RouteNote.js';
export type { RouteSummary, RouteSummary__Output } from './generated/routeguide/RouteSummary.js';

export const PROTO_PATH = fileURLToPath(new URL('./route_guide.proto', import.meta.url));

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

export const packageDefinition = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);

const loaded = grpc.loadPackageDefinition(packageDefinition) as unknown as ProtoGrpcType;

/** The `routeguide` package: `RouteGuide` is the client constructor, `RouteGuide.service` its definition. */
export const routeguide = loaded.routeguide;
