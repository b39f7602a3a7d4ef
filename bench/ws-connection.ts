/** RouteChat over the gateway's WebSocket (the contract's JSON frames). The only bench file importing ws. */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import {
  type BenchConnection,
  type ConnectionEvents,
  closedWithin,
  type OpenConnection,
} from './connection.js';

export const SUBPROTOCOL = 'routechat.v1';
export const ROUTECHAT_PATH = '/v1/routechat';

interface ServerFrame {
  readonly type?: string;
  readonly name?: string;
  readonly location?: { readonly latitude: number; readonly longitude: number };
}

export function createWsOpener(target: string, message: string): OpenConnection {
  const url = `ws://${target}${ROUTECHAT_PATH}`;
  const messageJson = JSON.stringify(message);
  return (events: ConnectionEvents) =>
    new Promise<BenchConnection>((resolve, reject) => {
      const ws = new WebSocket(url, [SUBPROTOCOL], { perMessageDeflate: false });
      let opened = false;
      let status = '';
      const closeWaiters: ((status: string) => void)[] = [];
      ws.on('message', (data: Buffer, isBinary) => {
        if (isBinary) return events.onError();
        const frame = JSON.parse(data.toString()) as ServerFrame;
        if (frame.location) events.onNote(frame.location.latitude, frame.location.longitude);
        else if (frame.type === 'status') status = frame.name ?? 'UNKNOWN';
        else events.onError();
      });
      ws.on('error', (error) => {
        if (!opened) reject(error);
      });
      ws.on('unexpected-response', (_request, response) => {
        reject(new Error(`upgrade refused: HTTP ${response.statusCode}`));
        ws.terminate();
      });
      ws.on('close', (code) => {
        const final = status || `CLOSED_${code}`;
        if (!opened) reject(new Error(`closed before open: ${code}`));
        events.onClosed(final);
        for (const waiter of closeWaiters.splice(0)) waiter(final);
      });
      ws.on('open', () => {
        opened = true;
        // ws keeps its net.Socket here; pausing it is what a client that stops reading looks like.
        const socket = (ws as unknown as { _socket: Socket })._socket;
        resolve({
          send(latitude, longitude) {
            ws.send(
              `{"location":{"latitude":${latitude},"longitude":${longitude}},"message":${messageJson}}`,
            );
          },
          end(timeoutMs) {
            if (ws.readyState !== WebSocket.OPEN) return Promise.resolve(status || 'CLOSED');
            ws.send('{"type":"end"}');
            return closedWithin((done) => closeWaiters.push(done), timeoutMs);
          },
          destroy: () => ws.terminate(),
          pauseReading: () => socket.pause(),
          resumeReading: () => socket.resume(),
        });
      });
    });
}
