/**
 * gRPC metadata rules shared by v1 and v2. HTTP/2 pseudo-headers, gRPC's own `grpc-*` headers,
 * `content-type`, `content-length`, `te` and `date` are transport: a Trailers-Only response carries
 * them all among its "trailers", a client may never set them, and a status frame never reports them.
 */

const TRANSPORT_HEADERS: ReadonlySet<string> = new Set(['content-type', 'content-length', 'date', 'te']);

/** true for metadata that belongs to HTTP/2 or gRPC itself, not to the application. */
export const isTransportMetadataKey = (key: string): boolean =>
  key.startsWith(':') || key.startsWith('grpc-') || TRANSPORT_HEADERS.has(key);

/** The trailers a status frame reports: the application's own, never transport or gRPC keys. */
export function trailerMetadata(trailers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(trailers)) if (!isTransportMetadataKey(key)) out[key] = value;
  return out;
}
