/** A real gateway (buildGateway, listening on an ephemeral port) in front of a given core address. */
import { buildGateway, type Gateway } from '../../gateway/app.js';
import { defaultGatewayConfig } from '../../gateway/config.js';
import { ROUTECHAT_PATH } from '../../protocol/frames.js';

export interface RunningGateway {
  readonly gateway: Gateway;
  /** `ws://127.0.0.1:PORT/v1/routechat` */
  readonly url: string;
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  close(): Promise<void>;
}

export async function startGateway(
  coreAddress: string,
  overrides: Parameters<typeof defaultGatewayConfig>[0] = {},
): Promise<RunningGateway> {
  const gateway = await buildGateway(
    defaultGatewayConfig({ core: coreAddress, 'log-level': 'silent', ...overrides }),
  );
  await gateway.app.listen({ host: '127.0.0.1', port: 0 });
  const address = gateway.app.server.address();
  if (typeof address !== 'object' || address === null) throw new Error('gateway has no TCP address');
  return {
    gateway,
    url: `ws://127.0.0.1:${address.port}${ROUTECHAT_PATH}`,
    origin: `http://127.0.0.1:${address.port}`,
    close: () => gateway.app.close(),
  };
}

/** A TCP port that nothing listens on right now (bound, then released). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
