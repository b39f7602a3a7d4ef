/**
 * The per-endpoint upgrade checks every WebSocket endpoint (/v1/routechat, /v2) shares, as a
 * `preValidation` hook: they run after the app-wide handshake policy (upgrade-guard.ts) and before
 * any WebSocket exists, in this order: draining, a plain GET, origin, connection caps, auth.
 */
import type {} from '@fastify/websocket';
import type { FastifyReply, FastifyRequest, preValidationAsyncHookHandler } from 'fastify';
import type { ConnectionObserver } from '../observe/observer.js';
import type { SessionRegistry } from '../session/registry.js';
import type { Authenticator } from './auth.js';
import { isLoopbackAddress, isOriginAllowed } from './origin.js';
import { bearerTokenFrom } from './upgrade.js';
import { refuse } from './upgrade-guard.js';

/** The settings the checks read (config.ts's flags of the same names). */
export interface AdmissionSettings {
  readonly listen: { readonly host: string };
  readonly 'trust-proxy': boolean | readonly string[];
  readonly 'allowed-origins': readonly string[];
  readonly 'max-connections': number;
  readonly 'max-connections-per-ip': number;
}

/** What an endpoint reads of the settings: the checks', and the headers it forwards to the core. */
export type EndpointSettings = AdmissionSettings & { readonly 'forward-headers': readonly string[] };

export interface EndpointCheckOptions {
  readonly config: AdmissionSettings;
  readonly sessions: SessionRegistry;
  readonly observer?: ConnectionObserver;
  readonly authenticate?: Authenticator;
}

export function createEndpointCheck(
  options: EndpointCheckOptions,
  path: string,
): preValidationAsyncHookHandler {
  const { config, sessions, observer } = options;
  // Loopback with nothing in front: only loopback Host names count as same-origin (DNS rebinding).
  const loopbackOnly = isLoopbackAddress(config.listen.host) && config['trust-proxy'] === false;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const refused = (
      statusCode: number,
      error: string,
      message: string,
      headers?: Record<string, string>,
    ) => {
      observer?.refused?.(statusCode, error);
      // Counted by reason; logged at debug only, so a reconnect loop or a crowd at the cap cannot flood the log.
      request.log.debug({ statusCode, error, origin: request.headers.origin }, 'upgrade refused');
      return refuse(reply, { statusCode, error, message, ...(headers ? { headers } : {}) });
    };
    if (sessions.closing)
      return refused(503, 'shutting_down', 'the gateway is shutting down', { 'retry-after': '1' });
    // Upgrades were checked app-wide (upgrade-guard.ts); this is a plain GET.
    if (!request.ws) {
      return refused(426, 'upgrade_required', `${path} is a WebSocket endpoint`, { upgrade: 'websocket' });
    }
    if (
      !isOriginAllowed(
        request.headers.origin,
        request.host,
        config['allowed-origins'],
        request.protocol === 'https',
        loopbackOnly,
      )
    ) {
      return refused(403, 'origin_not_allowed', 'this origin may not open a gateway WebSocket');
    }
    if (sessions.size >= config['max-connections']) {
      return refused(503, 'too_many_connections', 'the gateway is at its connection limit', {
        'retry-after': '5',
      });
    }
    if (sessions.countFor(request.ip) >= config['max-connections-per-ip']) {
      return refused(503, 'too_many_connections_from_address', 'too many connections from this address', {
        'retry-after': '5',
      });
    }
    if (options.authenticate) {
      const result = await options.authenticate(bearerTokenFrom(request.headers));
      if (!result.ok) {
        return refused(401, 'unauthenticated', `authentication failed: ${result.reason}`, {
          'www-authenticate': 'Bearer',
        });
      }
    }
    return undefined;
  };
}
