/**
 * The bearer token of a connection attempt: a string, or a function asked before every attempt (so
 * a reconnect gets a fresh one). It travels as the `bearer.<token>` subprotocol, so it must be an
 * HTTP token.
 *
 * One rule for a token function that throws or rejects, in every client: the attempt fails with
 * UNAVAILABLE ("could not get a token: …") and, with `reconnect`, is retried with backoff like a
 * gateway that cannot be reached (an identity provider has outages too). To stop instead, throw a
 * GatewayError: its code becomes the status (UNAUTHENTICATED, PERMISSION_DENIED… are never
 * retried). A token that cannot be a subprotocol is INVALID_ARGUMENT, never retried.
 */
import { GatewayError } from '../../protocol/common/errors.js';
import { type CallStatus, StatusCode } from '../../protocol/common/status.js';
import { BEARER_SUBPROTOCOL_PREFIX } from '../../protocol/v1/frames.js';
import { localStatus } from './close-status.js';

/** A token, or a function called before every connection attempt (so a reconnect gets a fresh one). */
export type TokenSource = string | (() => string | Promise<string>);

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

/** The token for one attempt; a throwing or rejecting function rejects (see tokenFailureStatus). */
export async function fetchToken(source: TokenSource | undefined): Promise<string | undefined> {
  if (source === undefined) return undefined;
  const token = typeof source === 'function' ? await source() : source;
  checkBearerToken(token);
  return token;
}

/** The status of an attempt whose token could not be had: a GatewayError keeps its code. */
export function tokenFailureStatus(error: unknown): CallStatus {
  if (error instanceof GatewayError) return localStatus(error.code, error.message);
  const message = error instanceof Error ? error.message : String(error);
  return localStatus(StatusCode.UNAVAILABLE, `could not get a token: ${message}`);
}

export const bearerSubprotocol = (token: string): string => `${BEARER_SUBPROTOCOL_PREFIX}${token}`;
