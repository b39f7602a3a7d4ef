/**
 * The RouteGuide message types alone: plain interfaces generated from `route_guide.proto`, with no
 * `@grpc/grpc-js` or `@grpc/proto-loader` anywhere in their declarations. The client library imports
 * these (never `./index.js`, which loads the protos with grpc-js), so its published declarations
 * ship only these files and a browser user needs no gRPC package to type-check against them.
 */
export type { Feature, Feature__Output } from './generated/routeguide/Feature.js';
export type { Point, Point__Output } from './generated/routeguide/Point.js';
export type { Rectangle, Rectangle__Output } from './generated/routeguide/Rectangle.js';
export type { RouteNote, RouteNote__Output } from './generated/routeguide/RouteNote.js';
export type { RouteSummary, RouteSummary__Output } from './generated/routeguide/RouteSummary.js';
