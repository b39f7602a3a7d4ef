/**
 * What an `open` frame's metadata may hold. Pure rules, shared by the gateway (which refuses the
 * stream with INVALID_ARGUMENT) and the docs. `authorization` comes only from the upgrade's token
 * (header or `bearer.<token>` subprotocol), so a page's script cannot swap identities per stream.
 */
import type { ErrorDetail } from '../frames.js';
import { isTransportMetadataKey } from '../metadata.js';

/** Keys beyond the transport ones (protocol/metadata.ts): the connection's identity and HTTP's own. */
export const RESERVED_METADATA_KEYS: ReadonlySet<string> = new Set([
  'authorization',
  'host',
  'user-agent',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'transfer-encoding',
  'upgrade',
]);

/** A legal gRPC metadata key (lower case; HTTP/2 header names are lower case). */
const KEY = /^[0-9a-z_.-]+$/;
/** A legal ASCII metadata value: printable characters and space. */
const ASCII_VALUE = /^[\x20-\x7e]*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A key a client may not set: transport, identity or hop-by-hop. */
export const isReservedMetadataKey = (key: string): boolean =>
  isTransportMetadataKey(key) || RESERVED_METADATA_KEYS.has(key);

/** Every problem with a client's metadata, each with its path (`metadata.<key>`); empty when fine. */
export function metadataProblems(metadata: Readonly<Record<string, string>>): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  for (const [key, value] of Object.entries(metadata)) {
    const path = `metadata.${key}`;
    if (key !== key.toLowerCase()) problems.push({ path, message: 'metadata keys are lower case' });
    else if (!KEY.test(key)) problems.push({ path, message: 'not a valid gRPC metadata key' });
    else if (isReservedMetadataKey(key))
      problems.push({
        path,
        message:
          key === 'authorization'
            ? 'authorization comes only from the WebSocket upgrade (bearer token)'
            : 'reserved or transport key: a client may not set it',
      });
    else if (key.endsWith('-bin') ? !BASE64.test(value) : !ASCII_VALUE.test(value))
      problems.push({
        path,
        message: key.endsWith('-bin')
          ? 'a -bin value is base64'
          : 'a metadata value is printable ASCII (use a -bin key for other bytes)',
      });
  }
  return problems;
}
