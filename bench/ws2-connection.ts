/**
 * RouteChat over protocol v2 (`GET /v2`): each bench connection is one stream, and
 * `streamsPerSocket` streams share one WebSocket. Frames are written by hand, like the v1 opener,
 * so that the client's cost stays out of the comparison; credit is honoured (a note without credit
 * waits for a credit frame).
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import {
  type BenchConnection,
  type ConnectionEvents,
  closedWithin,
  type OpenConnection,
} from './connection.js';

export const V2_SUBPROTOCOL = 'gateway.v2';
export const V2_PATH = '/v2';
const ROUTE_CHAT = 'routeguide.RouteGuide/RouteChat';
/** The protocol's INITIAL_STREAM_CREDIT. */
const INITIAL_CREDIT = 32;

interface ServerFrame {
  readonly type: string;
  readonly id?: string;
  readonly name?: string;
  readonly messages?: number;
  readonly message?: { readonly location?: { readonly latitude: number; readonly longitude: number } };
}

interface StreamEntry {
  readonly events: ConnectionEvents;
  credit: number;
  readonly held: string[];
  status: string;
  readonly waiters: ((status: string) => void)[];
}

interface SharedSocket {
  readonly ws: WebSocket;
  readonly ready: Promise<void>;
  readonly streams: Map<string, StreamEntry>;
  assigned: number;
}

function settle(entry: StreamEntry, status: string): void {
  if (entry.status) return;
  entry.status = status;
  entry.events.onClosed(status);
  for (const waiter of entry.waiters.splice(0)) waiter(status);
}

function openSocket(url: string): SharedSocket {
  const ws = new WebSocket(url, [V2_SUBPROTOCOL], { perMessageDeflate: false });
  const streams = new Map<string, StreamEntry>();
  const ready = new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('error', (error) => reject(error));
    ws.on('unexpected-response', (_request, response) => {
      reject(new Error(`upgrade refused: HTTP ${response.statusCode}`));
      ws.terminate();
    });
  });
  ready.catch(() => {});
  ws.on('message', (data: Buffer, isBinary) => {
    if (isBinary) return;
    const frame = JSON.parse(data.toString()) as ServerFrame;
    const entry = frame.id === undefined ? undefined : streams.get(frame.id);
    if (!entry) return;
    if (frame.type === 'message') {
      const location = frame.message?.location;
      if (location) entry.events.onNote(location.latitude, location.longitude);
    } else if (frame.type === 'credit') {
      entry.credit += frame.messages ?? 0;
      while (entry.credit > 0 && entry.held.length > 0) {
        entry.credit -= 1;
        ws.send(entry.held.shift()!);
      }
    } else if (frame.type === 'status') {
      streams.delete(frame.id!);
      settle(entry, frame.name ?? 'UNKNOWN');
    } else entry.events.onError();
  });
  ws.on('close', (code) => {
    for (const entry of streams.values()) settle(entry, `CLOSED_${code}`);
    streams.clear();
  });
  return { ws, ready, streams, assigned: 0 };
}

export function createWs2Opener(
  target: string,
  message: string,
  streamsPerSocket: number,
): { open: OpenConnection; close(): void } {
  const url = `ws://${target}${V2_PATH}`;
  const messageJson = JSON.stringify(message);
  const sockets: SharedSocket[] = [];
  let current: SharedSocket | undefined;
  let nextId = 0;
  const open: OpenConnection = async (events) => {
    // Assigned synchronously, so that concurrent opens fill one socket after another.
    if (!current || current.assigned >= streamsPerSocket) {
      current = openSocket(url);
      sockets.push(current);
    }
    const shared = current;
    shared.assigned += 1;
    const id = `s${++nextId}`;
    await shared.ready;
    const { ws } = shared;
    const entry: StreamEntry = { events, credit: INITIAL_CREDIT, held: [], status: '', waiters: [] };
    shared.streams.set(id, entry);
    ws.send(`{"type":"open","id":"${id}","method":"${ROUTE_CHAT}"}`);
    const prefix = `{"type":"message","id":"${id}","message":{"location":{"latitude":`;
    const socket = (ws as unknown as { _socket: Socket })._socket;
    const connection: BenchConnection = {
      send(latitude, longitude) {
        const frame = `${prefix}${latitude},"longitude":${longitude}},"message":${messageJson}}}`;
        if (entry.credit > 0 && entry.held.length === 0) {
          entry.credit -= 1;
          ws.send(frame);
        } else entry.held.push(frame);
      },
      end(timeoutMs) {
        if (entry.status || ws.readyState !== WebSocket.OPEN)
          return Promise.resolve(entry.status || 'CLOSED');
        ws.send(`{"type":"end","id":"${id}"}`);
        return closedWithin((done) => entry.waiters.push(done), timeoutMs);
      },
      destroy() {
        if (ws.readyState === WebSocket.OPEN) ws.send(`{"type":"cancel","id":"${id}"}`);
      },
      pauseReading: () => socket.pause(),
      resumeReading: () => socket.resume(),
    };
    return connection;
  };
  return {
    open,
    close() {
      for (const shared of sockets.splice(0)) shared.ws.close(1000);
      current = undefined;
    },
  };
}
