/** Hand-written upgrade requests on raw sockets: the exact status line, headers and body, and who closes. */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { SUBPROTOCOL } from '../../protocol/index.js';

export interface UpgradeRequestSpec {
  readonly method?: string;
  /** Request target as written on the request line. */
  readonly target?: string;
  readonly version?: string;
  /** Header lines (`Name: value`) replacing the defaults of the same name; `null` drops a default. */
  readonly headers?: Readonly<Record<string, string | null>>;
  /** Further header lines, written as given (e.g. a header twice). */
  readonly extraLines?: readonly string[];
}

export interface RawUpgradeAnswer {
  /** 0 when the socket closed without an answer. */
  readonly status: number;
  readonly statusLine: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** ms from the end of the answer's head until the server closed the socket; -1: still open at `closeWaitMs`. */
  readonly closedAfterMs: number;
}

/** The request text of a valid opening handshake for `address`, altered by `spec`. */
export function upgradeRequestText(address: string, spec: UpgradeRequestSpec = {}): string {
  const defaults: Record<string, string | null> = {
    Host: address,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Protocol': SUBPROTOCOL,
  };
  const headers = { ...defaults, ...spec.headers };
  const lines = [
    `${spec.method ?? 'GET'} ${spec.target ?? '/v1/routechat'} ${spec.version ?? 'HTTP/1.1'}`,
    ...Object.entries(headers)
      .filter((entry): entry is [string, string] => entry[1] !== null)
      .map(([name, value]) => `${name}: ${value}`),
    ...(spec.extraLines ?? []),
  ];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/**
 * Sends one upgrade request on a fresh connection and reads the answer: the head, the body (up to its
 * Content-Length, or nothing after a 101) and whether the server then closes the socket within `closeWaitMs`.
 * The client never closes first, so a socket the server keeps open shows up as `closedAfterMs: -1`.
 */
export async function rawUpgrade(
  address: string,
  spec: UpgradeRequestSpec = {},
  closeWaitMs = 3000,
): Promise<RawUpgradeAnswer> {
  const [host, port] = address.split(':');
  const socket = connect({ host: host as string, port: Number(port) });
  socket.on('error', () => {});
  await once(socket, 'connect');
  let received = Buffer.alloc(0);
  let closed = false;
  let headEndAt = -1;
  let closedAt = -1;
  const closedPromise = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true;
      closedAt = performance.now();
      resolve();
    }),
  );
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    if (headEndAt < 0 && received.includes('\r\n\r\n')) headEndAt = performance.now();
  });
  socket.write(upgradeRequestText(address, spec));
  const deadline = performance.now() + 5000;
  while (headEndAt < 0 && !closed && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  if (headEndAt < 0) headEndAt = performance.now();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([closedPromise, new Promise((r) => (timer = setTimeout(r, closeWaitMs)))]);
  clearTimeout(timer);
  socket.destroy();
  const text = received.toString('utf8');
  const end = text.indexOf('\r\n\r\n');
  const head = end >= 0 ? text.slice(0, end) : text;
  const [statusLine = '', ...headerLines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const rest = end >= 0 ? text.slice(end + 4) : '';
  const length = Number(headers['content-length'] ?? Number.NaN);
  const body = status === 101 ? '' : Number.isFinite(length) ? rest.slice(0, length) : rest;
  return {
    status,
    statusLine,
    headers,
    body,
    closedAfterMs: closedAt < 0 ? -1 : Math.max(0, closedAt - headEndAt),
  };
}
