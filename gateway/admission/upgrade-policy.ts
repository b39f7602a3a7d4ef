/**
 * Which upgrade requests may become a WebSocket at all, as a pure function of the request line and
 * headers: a known WebSocket path and a well-formed RFC 6455 opening handshake. Checked for every
 * upgrade before routing reaches a handler, so no other path, and nothing ws would refuse with its
 * own (non-JSON, uncounted) answer, ever gets a WebSocket. Origin, caps and auth come after, per endpoint.
 */

import { ROUTECHAT_PATH } from '../../protocol/v1/index.js';
import { V2_PATH } from '../../protocol/v2/index.js';
import { headerValue } from './upgrade.js';

/** Every path with a WebSocket endpoint, compared exactly (case, slashes, encoding). A new endpoint is one more entry. */
export const WEBSOCKET_PATHS: readonly string[] = [ROUTECHAT_PATH, V2_PATH];

/** An HTTP answer instead of a WebSocket: status, the body's `error` and `message`, extra headers. */
export interface Refusal {
  readonly statusCode: number;
  readonly error: string;
  readonly message: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface UpgradeRequest {
  readonly method?: string | undefined;
  /** The request target as sent (origin-form `/path?query`, or anything else a client wrote). */
  readonly url?: string | undefined;
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** Longest Sec-WebSocket-Protocol header accepted; a pathological one is refused before ws parses it. */
export const MAX_SUBPROTOCOL_HEADER = 4096;

/** 16 random bytes in base64 (RFC 6455 §4.1); ws checks the same. */
const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;
/** An RFC 7230 token: what a subprotocol name must be. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const badHandshake = (message: string): Refusal => ({ statusCode: 400, error: 'bad_handshake', message });

/** Why an upgrade's Sec-WebSocket-Protocol header cannot be answered, if it cannot. */
function subprotocolProblem(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (header.length > MAX_SUBPROTOCOL_HEADER) return 'Sec-WebSocket-Protocol header is too long';
  const offered = header.split(',').map((p) => p.trim());
  if (!offered.every((p) => TOKEN.test(p))) return 'Sec-WebSocket-Protocol is not a list of tokens';
  if (new Set(offered).size !== offered.length) return 'Sec-WebSocket-Protocol names a subprotocol twice';
  return undefined;
}

/** The refusal for an upgrade request, or undefined when it may go on to its endpoint's checks. */
export function upgradeRefusal(
  request: UpgradeRequest,
  paths: readonly string[] = WEBSOCKET_PATHS,
): Refusal | undefined {
  const target = request.url ?? '';
  const queryAt = target.indexOf('?');
  const path = queryAt === -1 ? target : target.slice(0, queryAt);
  if (!paths.includes(path)) {
    return { statusCode: 404, error: 'not_found', message: 'there is no WebSocket endpoint at this path' };
  }
  if (request.method !== 'GET') return badHandshake('a WebSocket opening handshake is a GET request');
  if (request.httpVersionMajor !== 1 || request.httpVersionMinor < 1) {
    return badHandshake('a WebSocket opening handshake needs HTTP/1.1');
  }
  const { headers } = request;
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400 (Node checks it for plain requests only).
  if (!headerValue(headers.host)) return badHandshake('a Host header is required');
  // A body would be read as WebSocket frames by us but as a body by an intermediary that ignores
  // the upgrade: the two would disagree about where the next request starts.
  const contentLength = headerValue(headers['content-length']);
  if (headers['transfer-encoding'] !== undefined || (contentLength !== undefined && contentLength !== '0')) {
    return badHandshake('an opening handshake has no body');
  }
  if (headerValue(headers.upgrade)?.trim().toLowerCase() !== 'websocket') {
    return {
      statusCode: 426,
      error: 'upgrade_required',
      message: `${path} is a WebSocket endpoint`,
      headers: { upgrade: 'websocket' },
    };
  }
  const connection = headerValue(headers.connection) ?? '';
  if (!connection.split(',').some((token) => token.trim().toLowerCase() === 'upgrade')) {
    return badHandshake('Connection must include "upgrade"');
  }
  if (!WEBSOCKET_KEY.test(headerValue(headers['sec-websocket-key']) ?? '')) {
    return badHandshake('Sec-WebSocket-Key must be 16 bytes in base64');
  }
  if (headerValue(headers['sec-websocket-version']) !== '13') {
    // RFC 6455 §4.4: name the version this server speaks.
    return {
      statusCode: 426,
      error: 'unsupported_websocket_version',
      message: 'only WebSocket version 13 (RFC 6455) is supported',
      headers: { 'sec-websocket-version': '13' },
    };
  }
  const subprotocol = subprotocolProblem(headerValue(headers['sec-websocket-protocol']));
  if (subprotocol) return { statusCode: 400, error: 'bad_subprotocol', message: subprotocol };
  return undefined;
}
