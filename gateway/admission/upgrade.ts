/**
 * Pure rules for an upgrade request: which subprotocol is selected, which headers become gRPC
 * metadata (the origin policy is in origin.ts). No I/O here; the plugin applies the answers.
 */
import { randomUUID } from 'node:crypto';
import {
  NOTE_SEQUENCE_KEY,
  NOTE_SESSION_KEY,
  type NoteSession,
  type NoteSessionResult,
  parseNoteSession,
} from '../../protocol/common/note-session.js';
import { BEARER_SUBPROTOCOL_PREFIX, SUBPROTOCOL } from '../../protocol/v1/index.js';
import { V2_BINARY_SUBPROTOCOL, V2_PATH, V2_SUBPROTOCOL } from '../../protocol/v2/index.js';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

/** One header's value; repeated ones joined as HTTP joins them. */
export const headerValue = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value.join(', ') : value;
const header = (headers: Headers, name: string): string | undefined => headerValue(headers[name]);

/** The subprotocols a client offered, in order. */
export function offeredSubprotocols(headers: Headers): string[] {
  const raw = header(headers, 'sec-websocket-protocol');
  if (!raw) return [];
  return raw
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
}

/**
 * ws `handleProtocols`: select the path's protocol when offered (`routechat.v1`; on /v2
 * `gateway.v2` or `gateway.v2.binary`, the first of the two the client offered); never a bearer token.
 */
export const selectSubprotocol = (offered: ReadonlySet<string>, url?: string): string | false => {
  if (url === undefined || url.split('?')[0] !== V2_PATH)
    return offered.has(SUBPROTOCOL) ? SUBPROTOCOL : false;
  for (const protocol of offered)
    if (protocol === V2_SUBPROTOCOL || protocol === V2_BINARY_SUBPROTOCOL) return protocol;
  return false;
};

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** A caller's x-request-id when it is sane, otherwise a fresh one. */
export const requestIdFrom = (headers: Headers): string => {
  const given = header(headers, 'x-request-id');
  return given && REQUEST_ID.test(given) ? given : randomUUID();
};

/** The caller's bearer token: from `Authorization: Bearer …`, else from a `bearer.<token>` subprotocol. */
export function bearerTokenFrom(headers: Headers): string | undefined {
  const authorization = header(headers, 'authorization');
  const match = authorization ? /^Bearer\s+(\S+)$/i.exec(authorization) : null;
  if (match) return match[1];
  const offered = offeredSubprotocols(headers).find((p) => p.startsWith(BEARER_SUBPROTOCOL_PREFIX));
  return offered && offered.length > BEARER_SUBPROTOCOL_PREFIX.length
    ? offered.slice(BEARER_SUBPROTOCOL_PREFIX.length)
    : undefined;
}

/**
 * gRPC metadata for the call: allow-listed headers, `authorization` from a `bearer.<token>`
 * subprotocol when no header carries one, and the request id.
 */
export function upstreamMetadata(
  headers: Headers,
  allowList: readonly string[],
  requestId: string,
): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const name of allowList) {
    const value = header(headers, name);
    if (value !== undefined) metadata[name] = value;
  }
  if (allowList.includes('authorization') && metadata.authorization === undefined) {
    const token = bearerTokenFrom(headers);
    if (token) metadata.authorization = `Bearer ${token}`;
  }
  if (allowList.includes('x-request-id')) metadata['x-request-id'] = requestId;
  return metadata;
}

/**
 * v1's producer session (protocol/common/note-session.ts): `note-session` and `note-sequence` as
 * query parameters of the upgrade URL (a browser cannot set headers on a WebSocket) or as request
 * headers of the same names. A key given twice, in either place or both, is refused.
 */
export function noteSessionFromUpgrade(url: string, headers: Headers): NoteSessionResult {
  const at = url.indexOf('?');
  const query = new URLSearchParams(at < 0 ? '' : url.slice(at + 1));
  const values = (key: string): string[] => {
    const given = headers[key];
    return [...query.getAll(key), ...(given === undefined ? [] : Array.isArray(given) ? given : [given])];
  };
  return parseNoteSession(values(NOTE_SESSION_KEY), values(NOTE_SEQUENCE_KEY));
}

/** The call metadata that carries a checked producer session to the core. */
export const noteSessionMetadata = (session: NoteSession): Record<string, string> => ({
  [NOTE_SESSION_KEY]: session.session,
  [NOTE_SEQUENCE_KEY]: String(session.firstSequence),
});
