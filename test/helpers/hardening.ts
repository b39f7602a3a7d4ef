/** Helpers for the tests that attack the gateway: real processes, raw sockets, hand-made frames. */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket, { type ClientOptions } from 'ws';
import type { RouteNote__Output } from '../../proto/index.js';
import { ROUTECHAT_PATH, SUBPROTOCOL } from '../../protocol/index.js';
import { type SpawnedProcess, spawnTs } from './core.js';
import { connect, type FakeCore, startFakeCore } from './gateway.js';

export interface SpawnedGateway extends SpawnedProcess {
  /** `127.0.0.1:port` */
  readonly address: string;
  readonly pid: number;
  readonly wsUrl: string;
}

/** The gateway as a real process on an ephemeral port; resolves once it is listening. */
export async function spawnGateway(
  coreAddress: string,
  args: readonly string[] = [],
): Promise<SpawnedGateway> {
  // 'gateway listening' is an info line: a lower level would hide it.
  const level = args.includes('--log-level') ? [] : ['--log-level', 'info'];
  const proc = spawnTs('gateway/main.ts', [
    '--listen',
    '127.0.0.1:0',
    '--core',
    coreAddress,
    ...level,
    ...args,
  ]);
  const line = await proc.waitForLog('gateway listening');
  const address = String(line.address);
  return Object.assign(proc, {
    address,
    pid: proc.child.pid as number,
    wsUrl: `ws://${address}${ROUTECHAT_PATH}`,
  });
}

/** Resident set size of a process, from /proc (Linux). */
export function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

export const isAlive = (proc: SpawnedProcess): boolean =>
  proc.child.exitCode === null && proc.child.signalCode === null;

/** The contract helper's client, under the name these tests use. */
export const openClient = connect;

export interface Refusal {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** An upgrade expected to be refused: the HTTP answer, whole. Rejects if the upgrade succeeds. */
export function refusal(
  url: string,
  options: ClientOptions & { protocols?: string[] } = {},
): Promise<Refusal> {
  const { protocols = [SUBPROTOCOL], ...wsOptions } = options;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, wsOptions);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        ws.terminate();
      });
      res.on('error', () => {});
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('upgrade was accepted'));
    });
    ws.on('error', (error) => {
      if (ws.readyState === WebSocket.CLOSED) reject(error);
    });
  });
}

/** A note through the gateway and back, then `end`: resolves with the close code (1000 when all is well). */
export async function roundTrip(url: string, options: ClientOptions & { protocols?: string[] } = {}) {
  const client = openClient(url, options);
  await client.opened;
  const latitude = 1 + Math.floor(Math.random() * 1e6);
  client.send({ location: { latitude, longitude: 7 }, message: 'ping' });
  client.send({ location: { latitude, longitude: 7 }, message: 'pong' });
  client.send({ type: 'end' });
  const closed = await client.closed;
  return { ...closed, frames: client.frames };
}

/** The opening of a WebSocket upgrade request, without the blank line that ends it. */
export function upgradeHead(address: string, extraLines: readonly string[] = []): string {
  return [
    `GET ${ROUTECHAT_PATH} HTTP/1.1`,
    `Host: ${address}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...extraLines,
  ]
    .map((line) => `${line}\r\n`)
    .join('');
}

export interface RawAnswer {
  /** The HTTP status of the answer, 0 when the socket closed without one. */
  readonly status: number;
  readonly head: string;
  readonly socket: Socket;
}

/** Writes `request` on a raw socket; resolves with the answer's head (status line and headers). */
export async function rawRequest(address: string, request: string, timeoutMs = 5000): Promise<RawAnswer> {
  const [host, port] = address.split(':');
  const socket = netConnect({ host: host as string, port: Number(port) });
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(request);
  return readHead(socket, timeoutMs);
}

export function readHead(socket: Socket, timeoutMs = 5000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no answer within ${timeoutMs} ms; got ${JSON.stringify(received.toString())}`));
    }, timeoutMs);
    const finish = () => {
      cleanup();
      const text = received.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const head = end >= 0 ? text.slice(0, end) : text;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      // Whatever followed the head (a body, or the first WebSocket frames) goes back to the reader.
      if (end >= 0 && received.length > end + 4) socket.unshift(received.subarray(end + 4));
      resolve({ status, head, socket });
    };
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.includes('\r\n\r\n')) finish();
    };
    const onClose = () => finish();
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
    };
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

/** Resolves with the ms until the socket is closed by the peer, or -1 if it is still open at `timeoutMs`. */
export function closedWithin(socket: Socket, timeoutMs: number): Promise<number> {
  const started = performance.now();
  if (socket.destroyed || socket.readableEnded) return Promise.resolve(0);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.off('close', onClose);
      socket.off('end', onClose);
      resolve(-1);
    }, timeoutMs);
    const onClose = () => {
      clearTimeout(timer);
      socket.off('close', onClose);
      socket.off('end', onClose);
      resolve(performance.now() - started);
    };
    socket.on('close', onClose);
    socket.on('end', onClose);
    socket.resume();
  });
}

/** A client-to-server WebSocket frame (masked, as RFC 6455 requires of clients); payload < 64 KiB. */
export function clientFrame(opcode: number, fin: boolean, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const lengthBytes = payload.length < 126 ? 0 : 2;
  const frame = Buffer.alloc(2 + lengthBytes + 4 + payload.length);
  frame[0] = (fin ? 0x80 : 0) | opcode;
  if (lengthBytes === 0) frame[1] = 0x80 | payload.length;
  else {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(payload.length, 2);
  }
  mask.copy(frame, 2 + lengthBytes);
  for (let i = 0; i < payload.length; i += 1)
    frame[2 + lengthBytes + 4 + i] = (payload[i] as number) ^ (mask[i % 4] as number);
  return frame;
}

/** A fake core that echoes each note back and ends when the client does. */
export const startEchoCore = (): Promise<FakeCore> =>
  startFakeCore((call) => {
    call.on('data', (n: RouteNote__Output) => call.write(n));
    call.on('end', () => call.end());
  });

/** A self-signed certificate for localhost and 127.0.0.1 (P-256), made with openssl in a tmp dir. */
export function makeCertificate(): { dir: string; cert: string; key: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'routechat-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-days',
      '1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { dir, cert, key, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
