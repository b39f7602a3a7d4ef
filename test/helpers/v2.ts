/** A real v2 WebSocket test client: records every frame, waits for a stream's status. */
import { once } from 'node:events';
import WebSocket, { type ClientOptions } from 'ws';
import type { WebSocketConstructor } from '../../clients/lib/index.js';
import {
  binaryFramePrefix,
  binaryMessageFrame,
  decodeBinaryFrame,
  type ServerFrameV2,
  type StatusFrameV2,
  V2_PATH,
  V2_SUBPROTOCOL,
} from '../../protocol/v2/index.js';

export interface V2TestClient {
  readonly ws: WebSocket;
  readonly frames: ServerFrameV2[];
  /** Binary message frames received (gateway.v2.binary), decoded; `undefined` for one that does not decode. */
  readonly binary: ({ id: string; message: Uint8Array } | undefined)[];
  /** Sends `message` as a binary message frame of stream `id`. */
  sendBinary(id: string, message: Uint8Array): void;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  send(frame: unknown): void;
  /** Frames of stream `id`, in order. */
  of(id: string): ServerFrameV2[];
  /** Messages of stream `id`. */
  messages(id: string): unknown[];
  /** Resolves with stream `id`'s status frame. */
  status(id: string, timeoutMs?: number): Promise<StatusFrameV2>;
  /** Resolves once `predicate` holds over the frames received. */
  until(predicate: (frames: ServerFrameV2[]) => boolean, timeoutMs?: number, what?: string): Promise<void>;
}

export const v2Url = (port: number) => `ws://127.0.0.1:${port}${V2_PATH}`;

export function connectV2(url: string, options: ClientOptions & { protocols?: string[] } = {}): V2TestClient {
  const { protocols = [V2_SUBPROTOCOL], ...wsOptions } = options;
  const ws = new WebSocket(url, protocols, wsOptions);
  const frames: ServerFrameV2[] = [];
  const binary: V2TestClient['binary'] = [];
  const listeners = new Set<() => void>();
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      const decoded = decodeBinaryFrame(new Uint8Array(data as Buffer));
      binary.push(decoded.ok ? { id: decoded.id, message: decoded.message } : undefined);
    } else frames.push(JSON.parse(String(data)) as ServerFrameV2);
    for (const listener of [...listeners]) listener();
  });
  ws.on('error', () => {});
  const opened = once(ws, 'open').then(() => undefined);
  opened.catch(() => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  const until = (predicate: (f: ServerFrameV2[]) => boolean, timeoutMs = 10_000, what = 'frames') =>
    new Promise<void>((resolve, reject) => {
      if (predicate(frames)) return resolve();
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(frames).slice(-3000)}`));
      }, timeoutMs);
      const check = () => {
        if (!predicate(frames)) return;
        clearTimeout(timer);
        listeners.delete(check);
        resolve();
      };
      listeners.add(check);
    });
  const of = (id: string) => frames.filter((f) => 'id' in f && f.id === id);
  return {
    ws,
    frames,
    binary,
    sendBinary: (id, message) => ws.send(binaryMessageFrame(binaryFramePrefix(id), message)),
    opened,
    closed,
    send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)),
    of,
    messages: (id) => of(id).flatMap((f) => (f.type === 'message' ? [f.message] : [])),
    async status(id, timeoutMs) {
      await until((f) => f.some((x) => x.type === 'status' && x.id === id), timeoutMs, `status of ${id}`);
      return of(id).find((f) => f.type === 'status') as StatusFrameV2;
    },
    until,
  };
}

/** A ws WebSocket class for the client library that counts the sockets it opens. */
export function countingWebSocket(): { WebSocket: WebSocketConstructor; opened: () => number } {
  let opened = 0;
  class Counting extends WebSocket {
    constructor(url: string, protocols: string[]) {
      super(url, protocols);
      opened += 1;
    }
  }
  return { WebSocket: Counting as unknown as WebSocketConstructor, opened: () => opened };
}
