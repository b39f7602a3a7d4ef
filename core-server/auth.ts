/**
 * Optional token check at the core: a server interceptor that ends any call whose
 * `authorization: Bearer <token>` is not one of the configured tokens with UNAUTHENTICATED
 * (the gateway turns that into close 4016). Health and reflection stay open for probes and tools.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';

const OPEN_SERVICES = ['/grpc.health.v1.Health/', '/grpc.reflection.'];
const digest = (value: string) => createHash('sha256').update(value).digest();

export function createTokenInterceptor(tokens: readonly string[]): grpc.ServerInterceptor {
  const known = tokens.map(digest);
  const allowed = (metadata: grpc.Metadata): boolean => {
    const header = metadata.get('authorization')[0];
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match?.[1]) return false;
    const given = digest(match[1]);
    return known.some((token) => timingSafeEqual(token, given));
  };
  return (descriptor, call) => {
    if (OPEN_SERVICES.some((prefix) => descriptor.path.startsWith(prefix)))
      return new grpc.ServerInterceptingCall(call);
    return new grpc.ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, forward) => {
            if (allowed(metadata)) forward(metadata);
            else
              call.sendStatus({
                code: grpc.status.UNAUTHENTICATED,
                details: 'missing or unknown bearer token',
                metadata: new grpc.Metadata(),
              });
          },
        }),
    });
  };
}
