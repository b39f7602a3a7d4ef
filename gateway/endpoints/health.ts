/** `GET /healthz` (the process is alive) and `GET /readyz` (the core answers its health check). */
import type { FastifyPluginAsync } from 'fastify';
import type { SessionRegistry } from '../session/registry.js';
import type { Upstream } from '../upstream/upstream.js';

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
    if (sessions.closing) return reply.code(503).send({ status: 'not_ready', reason: 'shutting_down' });
    const serving = await upstream.checkHealth(checkTimeoutMs);
    if (!serving) return reply.code(503).send({ status: 'not_ready', reason: 'core_unavailable' });
    return { status: 'ready' };
  });
};
