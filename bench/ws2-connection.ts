/**
 * RouteChat over protocol v2 (`GET /v2`): each bench connection is one stream, and
 * `streamsPerSocket` streams share one WebSocket. Frames are written by hand, like the v1 opener,
 * so that the client's cost stays out of the comparison; credit is honoured (a note without credit
 * waits for a credit frame). `binary`: the notes travel as v2's binary message frames
 * (`gateway.v2.binary`), protobuf written and read by hand too.
 */
import type { Socket } from 'node:net';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import WebSocket from 'ws';
import {
  type BenchConnection,
  type ConnectionEvents,
  closedWithin,
  type OpenConnection,
} from './connection.js';

export const V2_SUBPROTOCOL = 'gateway.v2';
export const V2_BINARY_SUBPROTOCOL = 'gateway.v2.binary';
export type Encoding = 'json' | 'binary';
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
  readonly held: (string | Uint8Array)[];
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

/** int32 as protobuf writes it (a negative one takes ten bytes); returns the next offset. */
function writeInt32(buffer: Buffer, offset: number, value: number): number {
  let v = BigInt.asUintN(64, BigInt(value));
  let at = offset;
  while (v >= 0x80n) {
    buffer[at++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buffer[at++] = Number(v);
  return at;
}

/**
 * A binary message frame of `prefix`'s stream holding RouteNote { location { latitude, longitude },
 * message }, written directly (the message's bytes once per stream), so the client's cost stays
 * small next to the gateway's, as the JSON opener's template does.
 */
function binaryNoteFrame(prefix: Buffer, messageField: Buffer, latitude: number, longitude: number): Buffer {
  const frame = Buffer.allocUnsafe(prefix.length + 2 + 2 + 10 + 1 + 10 + messageField.length);
  prefix.copy(frame, 0);
  let at = prefix.length;
  frame[at] = 0x0a; // location, length-delimited
  const lengthAt = at + 1;
  at = lengthAt + 1;
  frame[at++] = 0x08;
  at = writeInt32(frame, at, latitude);
  frame[at++] = 0x10;
  at = writeInt32(frame, at, longitude);
  frame[lengthAt] = at - lengthAt - 1;
  messageField.copy(frame, at);
  return frame.subarray(0, at + messageField.length);
}

/** A binary message frame (protocol/v2/binary-frames.ts) → its id and the note's location. */
function readBinaryNote(data: Buffer): { id: string; latitude: number; longitude: number } {
  const idLength = data.readUInt16BE(1);
  const id = data.toString('latin1', 3, 3 + idLength);
  const reader = new BinaryReader(data.subarray(3 + idLength));
  let latitude = 0;
  let longitude = 0;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field !== 1) {
      reader.skip(wireType);
      continue;
    }
    const end = reader.uint32() + reader.pos;
    while (reader.pos < end) {
      const [inner, innerType] = reader.tag();
      if (inner === 1) latitude = reader.int32();
      else if (inner === 2) longitude = reader.int32();
      else reader.skip(innerType);
    }
  }
  return { id, latitude, longitude };
}

function openSocket(url: string, encoding: Encoding): SharedSocket {
  const subprotocol = encoding === 'binary' ? V2_BINARY_SUBPROTOCOL : V2_SUBPROTOCOL;
  const ws = new WebSocket(url, [subprotocol], { perMessageDeflate: false });
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
    if (isBinary) {
      const note = readBinaryNote(data);
      streams.get(note.id)?.events.onNote(note.latitude, note.longitude);
      return;
    }
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
  encoding: Encoding = 'json',
): { open: OpenConnection; close(): void } {
  const url = `ws://${target}${V2_PATH}`;
  const messageJson = JSON.stringify(message);
  const messageField = Buffer.from(new BinaryWriter().tag(2, 2).string(message).finish());
  const sockets: SharedSocket[] = [];
  let current: SharedSocket | undefined;
  let nextId = 0;
  const open: OpenConnection = async (events) => {
    // Assigned synchronously, so that concurrent opens fill one socket after another.
    if (!current || current.assigned >= streamsPerSocket) {
      current = openSocket(url, encoding);
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
    // protocol/v2/binary-frames.ts: kind 0x01, the id's length (two bytes), the id; then the note.
    const binaryPrefix = Buffer.from([0x01, 0, id.length, ...Buffer.from(id)]);
    const noteFrame = (latitude: number, longitude: number): string | Uint8Array =>
      encoding === 'json'
        ? `${prefix}${latitude},"longitude":${longitude}},"message":${messageJson}}}`
        : binaryNoteFrame(binaryPrefix, messageField, latitude, longitude);
    const socket = (ws as unknown as { _socket: Socket })._socket;
    const connection: BenchConnection = {
      send(latitude, longitude) {
        const frame = noteFrame(latitude, longitude);
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
