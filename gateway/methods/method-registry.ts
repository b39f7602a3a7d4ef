/**
 * The methods the gateway relays: every method of the loaded services, filtered by the allow-list
 * (`--methods`). A name is `package.Service/Method`, as in an `open` frame.
 */
import type { FileRegistry } from '@bufbuild/protobuf';
import { createCodec, type MessageCodec } from './codec.js';

export interface MethodInfo {
  /** `package.Service/Method` */
  readonly name: string;
  /** The HTTP/2 path: `/package.Service/Method`. */
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly codec: MessageCodec;
}

export type MethodLookup =
  | { readonly kind: 'found'; readonly method: MethodInfo }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'denied' };

export interface MethodCatalog {
  lookup(name: string): MethodLookup;
  /** Every allowed method's name. */
  names(): string[];
}

/** `routeguide.*`, `routeguide.RouteGuide/*`, `*\/GetFeature`: `*` matches any run of characters. */
export function methodMatcher(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => true;
  const regexes = patterns.map(
    (p) =>
      new RegExp(
        `^${p
          .split('*')
          .map((part) => part.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
          .join('.*')}$`,
      ),
  );
  return (name) => regexes.some((r) => r.test(name));
}

export interface MethodCatalogOptions {
  /** Allow-list patterns; empty: every method of the loaded services. */
  readonly allow: readonly string[];
  readonly maxMessageBytes: number;
}

/** A catalog over several registries (e.g. .proto files and reflection); the first that has a service wins. */
export function createMethodCatalog(
  registries: readonly FileRegistry[],
  options: MethodCatalogOptions,
): MethodCatalog {
  const allowed = methodMatcher(options.allow);
  const methods = new Map<string, MethodInfo>();
  for (const registry of registries) {
    for (const file of registry.files) {
      for (const service of file.services) {
        for (const method of service.methods) {
          const name = `${service.typeName}/${method.name}`;
          if (methods.has(name)) continue;
          methods.set(name, {
            name,
            path: `/${name}`,
            requestStream: method.methodKind === 'client_streaming' || method.methodKind === 'bidi_streaming',
            responseStream:
              method.methodKind === 'server_streaming' || method.methodKind === 'bidi_streaming',
            codec: createCodec(method.input, method.output, registry, options.maxMessageBytes),
          });
        }
      }
    }
  }
  return {
    lookup(raw) {
      const name = raw.startsWith('/') ? raw.slice(1) : raw;
      const method = methods.get(name);
      if (!method) return { kind: 'unknown' };
      return allowed(name) ? { kind: 'found', method } : { kind: 'denied' };
    },
    names: () => [...methods.keys()].filter(allowed),
  };
}
