/**
 * `GET /healthz` (the process is alive) and `GET /readyz` (a core answers its health check). A 503
 * from /readyz says why in its body, `{ status: 'not_ready', reason }`, and in its status line
 * (`503 Not Ready: …`), which HAProxy shows as the check's result (docs/operations.md).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { SessionRegistry } from '../session/registry.js';
import { type NoCoreReason, noCoreReason } from '../upstream/core-diagnosis.js';
import type { Upstream } from '../upstream/upstream.js';

export type NotReadyReason = 'shutting_down' | NoCoreReason;

/** Each reason in words, for the status line a proxy shows (HAProxy's check info). */
export const NOT_READY_WORDS: Readonly<Record<NotReadyReason, string>> = {
  shutting_down: 'the gateway is shutting down',
  core_unavailable: 'no core reachable',
  note_store_down: 'no core serving: the note store is down',
  core_not_serving: 'no core serving',
};

export interface HealthPluginOptions {
  readonly upstream: Upstream;
  readonly sessions: SessionRegistry;
  readonly checkTimeoutMs?: number;
}

export const healthPlugin: FastifyPluginAsync<HealthPluginOptions> = async (
  app,
  { upstream, sessions, checkTimeoutMs = 1000 },
) => {
  app.get('/healthz', async () => ({ status: 'ok', connections: sessions.size }));
  app.get('/readyz', async (_request, reply) => {
    const notReady = (reason: NotReadyReason) => {
      reply.raw.statusMessage = `Not Ready: ${NOT_READY_WORDS[reason]}`;
      return reply.code(503).send({ status: 'not_ready', reason });
    };
    if (sessions.closing) return notReady('shutting_down');
    const serving = await upstream.checkHealth(checkTimeoutMs);
    if (!serving) return notReady(noCoreReason(await upstream.diagnoseCores(checkTimeoutMs)));
    return { status: 'ready' };
  });
};
