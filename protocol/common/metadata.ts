/**
 * gRPC metadata rules shared by v1 and v2. HTTP/2 pseudo-headers, gRPC's own `grpc-*` headers,
 * `content-type`, `content-length`, `te` and `date` are transport: a Trailers-Only response carries
 * them all among its "trailers", a client may never set them, and a status frame never reports them.
 */

const TRANSPORT_HEADERS: ReadonlySet<string> = new Set(['content-type', 'content-length', 'date', 'te']);

/** true for metadata that belongs to HTTP/2 or gRPC itself, not to the application. */
export const isTransportMetadataKey = (key: string): boolean =>
  key.startsWith(':') || key.startsWith('grpc-') || TRANSPORT_HEADERS.has(key);

/**
 * The connection-specific header fields an HTTP/2 request must not carry (RFC 9113 §8.2.2), as Node's
 * http2 client refuses them (`ERR_HTTP2_INVALID_CONNECTION_HEADERS`, thrown by `session.request`).
 * grpc-js answers that throw by dropping the whole HTTP/2 session, with every other call on it, so
 * such a key must never reach a shared channel. test/gateway/http2-header-rule.test.ts checks this
 * list against Node's own client, name by name.
 */
export const HTTP2_CONNECTION_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'http2-settings',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

/** Why an HTTP/2 request may not carry header `key` with `value`, or undefined when it may. */
export function http2RequestHeaderProblem(key: string, value: string): string | undefined {
  if (HTTP2_CONNECTION_HEADERS.has(key))
    return `${key} is a connection-specific header, forbidden in HTTP/2 (RFC 9113 §8.2.2)`;
  if (key === 'te' && value !== 'trailers') return 'te other than "trailers" is forbidden in HTTP/2';
  return undefined;
}

/** The trailers a status frame reports: the application's own, never transport or gRPC keys. */
export function trailerMetadata(trailers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(trailers)) if (!isTransportMetadataKey(key)) out[key] = value;
  return out;
}
