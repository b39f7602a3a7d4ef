/**
 * A small HTTP/1.1 server that exposes Prometheus metrics on an address of its own, away from the
 * public traffic: the core's gRPC port speaks only gRPC, and the gateway's public port serves
 * browsers. Used by both processes (and the gateway cluster's primary, with aggregated metrics).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatHostPort, type HostPort } from './cli-options.js';

/** What is scraped: a prom-client `Registry`, or anything that renders the text format likewise. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export interface MetricsServer {
  /** The address actually bound (port 0 → a free port). */
  readonly address: HostPort;
  /** e.g. http://127.0.0.1:9464/metrics */
  readonly url: string;
  close(): Promise<void>;
}

/** The metrics address could not be bound; `code` says whether it was taken. */
export class MetricsListenError extends Error {
  override readonly name = 'MetricsListenError';
  constructor(
    readonly code: 'ADDRESS_IN_USE' | 'LISTEN_FAILED',
    message: string,
  ) {
    super(message);
  }
}

/** Serves `GET /metrics` (and HEAD) from `source`; other paths get 404, other methods 405. */
export async function startMetricsServer(source: MetricsSource, listen: HostPort): Promise<MetricsServer> {
  const respond = async (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
        .end('method not allowed\n');
      return;
    }
    try {
      const body = await source.metrics();
      response.writeHead(200, { 'content-type': source.contentType, 'cache-control': 'no-store' });
      response.end(request.method === 'HEAD' ? undefined : body);
    } catch (error) {
      response
        .writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
        .end(`metrics collection failed: ${(error as Error).message}\n`);
    }
  };
  const server = createServer((request, response) => void respond(request, response));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;

  const target = formatHostPort(listen);
  server.listen(listen.port, listen.host);
  try {
    // Rejects with the server's 'error' (e.g. EADDRINUSE) if that comes first.
    await once(server, 'listening');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new MetricsListenError(
      code === 'EADDRINUSE' ? 'ADDRESS_IN_USE' : 'LISTEN_FAILED',
      code === 'EADDRINUSE'
        ? `cannot serve metrics on ${target}: address already in use`
        : `cannot serve metrics on ${target}: ${(error as Error).message}`,
    );
  }
  const bound = server.address() as AddressInfo;
  const address = { host: listen.host, port: bound.port };
  return {
    address,
    url: `http://${formatHostPort(address)}/metrics`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Scrapers keep connections alive: don't let them hold the shutdown.
        server.closeAllConnections();
      }),
  };
}
