/**
 * The bearer token of a connection attempt: a string, or a function asked before every attempt (so
 * a reconnect gets a fresh one). It travels as the `bearer.<token>` subprotocol, so it must be an
 * HTTP token.
 */

import { GatewayError } from '../../protocol/common/errors.js';
import { StatusCode } from '../../protocol/common/status.js';
import { BEARER_SUBPROTOCOL_PREFIX } from '../../protocol/v1/frames.js';
import type { TokenSource } from './route-chat-socket.js';

const TOKEN_CHARS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Throws INVALID_ARGUMENT when `token` cannot be carried in a subprotocol. */
export function checkBearerToken(token: string): void {
  if (!TOKEN_CHARS.test(token)) {
    throw new GatewayError(
      StatusCode.INVALID_ARGUMENT,
      'the bearer token must be non-empty and use only HTTP token characters to fit in a subprotocol',
    );
  }
}

/** The token for one attempt; a throwing or rejecting function rejects. */
export async function fetchToken(source: TokenSource | undefined): Promise<string | undefined> {
  if (source === undefined) return undefined;
  const token = typeof source === 'function' ? await source() : source;
  checkBearerToken(token);
  return token;
}

export const bearerSubprotocol = (token: string): string => `${BEARER_SUBPROTOCOL_PREFIX}${token}`;
