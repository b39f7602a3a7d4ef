/**
 * How GatewayClient is typed: a method map, `'package.Service/Method'` → its request and response in
 * proto3 JSON. `MethodsOf` derives one from a service that protoc-gen-es generated with
 * `json_types=true` (its `…Json` types), so a map is never written by hand: ours are below, and a
 * user's own service gets one the same way.
 */
import type { MessageJsonType } from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';
import type { NoteFeed } from '../../proto/es/note_feed_pb.js';
import type { RouteGuide } from '../../proto/es/route_guide_pb.js';

export interface MethodTypes {
  readonly request: unknown;
  readonly response: unknown;
}
export type MethodMap = Record<string, MethodTypes>;

/**
 * The map of a generated service, `typeName` being its full name (`routeguide.RouteGuide`; the
 * descriptor has it only at run time). Requests as sent (every field optional); responses with
 * every top-level field present, as the gateway writes them (implicit fields included). A method's
 * key is its generated local name capitalised, which is its proto name for every method named in
 * UpperCamelCase, as the protobuf style guide asks.
 */
export type MethodsOf<Service extends GenService<GenServiceMethods>, TypeName extends string> = {
  [Name in keyof Service['method'] & string as `${TypeName}/${Capitalize<Name>}`]: {
    readonly request: MessageJsonType<Service['method'][Name]['input']>;
    readonly response: Required<MessageJsonType<Service['method'][Name]['output']>>;
  };
};

/** routeguide.RouteGuide: GetFeature, ListFeatures, RecordRoute, RouteChat. */
export type RouteGuideMethods = MethodsOf<typeof RouteGuide, 'routeguide.RouteGuide'>;
/** routeguide.NoteFeed: Watch (live notes). */
export type NoteFeedMethods = MethodsOf<typeof NoteFeed, 'routeguide.NoteFeed'>;

type Camel<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Head}${Capitalize<Camel<Tail>>}`
  : S;
/**
 * A proto-loader (keepCase) type in its proto3 JSON names, `point_count` → `pointCount`: for a map of
 * a service whose code comes from proto-loader-gen-types rather than protoc-gen-es.
 */
export type Proto3Json<T> = T extends readonly (infer U)[]
  ? Proto3Json<U>[]
  : T extends object
    ? { [K in keyof T as K extends string ? Camel<K> : K]: Proto3Json<T[K]> }
    : T;
