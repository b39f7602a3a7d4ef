/**
 * Refusing an upgrade over HTTP, and the app-wide `onRequest` hook that applies upgrade-policy.ts to
 * every upgrade request, whatever route (a page, /healthz, the not-found handler) it would reach.
 * @fastify/websocket would otherwise complete the handshake on any route and close the WebSocket
 * with no code.
 */
import type {} from '@fastify/websocket';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { ConnectionObserver } from '../observe/observer.js';
import { type Refusal, upgradeRefusal, WEBSOCKET_PATHS } from './upgrade-policy.js';

/** Answers `refusal` as JSON (`{error, message}`) and closes the connection once it is out. */
export function refuse(reply: FastifyReply, refusal: Refusal): FastifyReply {
  // The upgrade's socket is outside the HTTP server's keep-alive handling: close it once the answer
  // is out, or a refused client could hold it open (and hold up a graceful shutdown).
  const socket = reply.raw.socket;
  reply.raw.once('finish', () => socket?.end());
  return reply
    .code(refusal.statusCode)
    .headers({ connection: 'close', ...refusal.headers })
    .send({ error: refusal.error, message: refusal.message });
}

export interface UpgradeGuardOptions {
  readonly observer?: ConnectionObserver;
  readonly paths?: readonly string[];
}

/**
 * The hook for `app.addHook('onRequest', …)`, added after @fastify/websocket (whose own hook marks
 * upgrade requests). Requests that are not upgrades pass untouched. Refusals here are an attacker's
 * or a scanner's noise: counted, logged at debug only.
 */
export function upgradeGuard(options: UpgradeGuardOptions = {}): onRequestAsyncHookHandler {
  const paths = options.paths ?? WEBSOCKET_PATHS;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.ws) return;
    const refusal = upgradeRefusal(request.raw, paths);
    if (!refusal) return;
    options.observer?.refused?.(refusal.statusCode, refusal.error);
    request.log.debug({ statusCode: refusal.statusCode, error: refusal.error }, 'upgrade refused');
    return refuse(reply, refusal);
  };
}
