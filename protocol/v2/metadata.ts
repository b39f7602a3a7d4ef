/**
 * What an `open` frame's metadata may hold. Pure rules, shared by the gateway (which refuses the
 * stream with INVALID_ARGUMENT) and the docs. `authorization` comes only from the upgrade's token
 * (header or `bearer.<token>` subprotocol), so a page's script cannot swap identities per stream;
 * the forwarding headers are the gateway's word about the client, never the client's.
 */
import type { ErrorDetail } from '../common/error-details.js';
import {
  HTTP2_CONNECTION_HEADERS,
  http2RequestHeaderProblem,
  isTransportMetadataKey,
} from '../common/metadata.js';
import { MAX_OPEN_METADATA_BYTES, MAX_OPEN_METADATA_ENTRIES } from './constants.js';

/** Headers that say who the client is: only the gateway (or a proxy it trusts) may vouch for them. */
export const IDENTITY_METADATA_KEYS: ReadonlySet<string> = new Set([
  'authorization',
  'proxy-authorization',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
]);

/**
 * Keys beyond the transport ones (protocol/metadata.ts): the connection's identity, HTTP's own
 * (`host`, `user-agent`), and every connection-specific header HTTP/2 forbids in a request.
 */
export const RESERVED_METADATA_KEYS: ReadonlySet<string> = new Set([
  ...IDENTITY_METADATA_KEYS,
  'host',
  'user-agent',
  ...HTTP2_CONNECTION_HEADERS,
]);

/** A legal gRPC metadata key (lower case; HTTP/2 header names are lower case). */
const KEY = /^[0-9a-z_.-]+$/;
/** A legal ASCII metadata value: printable characters and space. */
const ASCII_VALUE = /^[\x20-\x7e]*$/;
const BASE64_CHARS = /^[A-Za-z0-9+/]*$/;

/**
 * Base64 as gRPC reads a `-bin` value: padded or not, but of a length some bytes encode to (a
 * length of 4n + 1 encodes nothing, and would silently decode to less than was sent).
 */
export function isBase64(value: string): boolean {
  const body = value.replace(/={1,2}$/, '');
  const padding = value.length - body.length;
  if (!BASE64_CHARS.test(body) || body.length % 4 === 1) return false;
  return padding === 0 || (body.length + padding) % 4 === 0;
}

/** A key a client may not set: transport, identity, hop-by-hop or HTTP/2-forbidden. */
export const isReservedMetadataKey = (key: string): boolean =>
  isTransportMetadataKey(key) || RESERVED_METADATA_KEYS.has(key);

function reservedKeyMessage(key: string): string {
  if (key === 'authorization') return 'authorization comes only from the WebSocket upgrade (bearer token)';
  if (IDENTITY_METADATA_KEYS.has(key)) return 'identity header: only the gateway may set it';
  if (HTTP2_CONNECTION_HEADERS.has(key)) return http2RequestHeaderProblem(key, '') ?? '';
  return 'reserved or transport key: a client may not set it';
}

/**
 * Every problem with a client's metadata, each with its path (`metadata.<key>`); empty when fine.
 * Over MAX_OPEN_METADATA_ENTRIES entries or MAX_OPEN_METADATA_BYTES bytes is one problem, found
 * before any key is looked at.
 */
export function metadataProblems(metadata: Readonly<Record<string, string>>): ErrorDetail[] {
  const entries = Object.entries(metadata);
  if (entries.length > MAX_OPEN_METADATA_ENTRIES)
    return [
      {
        path: 'metadata',
        message: `${entries.length} entries: at most ${MAX_OPEN_METADATA_ENTRIES} are allowed`,
      },
    ];
  let bytes = 0;
  for (const [key, value] of entries) bytes += key.length + value.length;
  if (bytes > MAX_OPEN_METADATA_BYTES)
    return [
      {
        path: 'metadata',
        message: `${bytes} bytes of keys and values: at most ${MAX_OPEN_METADATA_BYTES} are allowed`,
      },
    ];
  const problems: ErrorDetail[] = [];
  for (const [key, value] of entries) {
    const path = `metadata.${key}`;
    if (key !== key.toLowerCase()) problems.push({ path, message: 'metadata keys are lower case' });
    else if (!KEY.test(key)) problems.push({ path, message: 'not a valid gRPC metadata key' });
    else if (isReservedMetadataKey(key)) problems.push({ path, message: reservedKeyMessage(key) });
    else if (key.endsWith('-bin') ? !isBase64(value) : !ASCII_VALUE.test(value))
      problems.push({
        path,
        message: key.endsWith('-bin')
          ? 'a -bin value is base64 (of a length some bytes encode to)'
          : 'a metadata value is printable ASCII (use a -bin key for other bytes)',
      });
  }
  return problems;
}
