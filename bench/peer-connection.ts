/**
 * RouteChat through the Go peer gateway (grpc-gateway + tmc/grpc-websocket-proxy, built by
 * `../shared/tools/setup-peers.sh`): `POST /v1/routechat` upgraded to a WebSocket, one JSON
 * RouteNote per text message in, one `{"result": RouteNote}` per message out. The peer has no
 * half-close frame: closing the socket ends the call.
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import {
  type BenchConnection,
  type ConnectionEvents,
  closedWithin,
  type OpenConnection,
} from './connection.js';

interface PeerFrame {
  readonly result?: { readonly location?: { readonly latitude?: number; readonly longitude?: number } };
  readonly error?: unknown;
}

export function createPeerOpener(target: string, message: string): OpenConnection {
  const url = `ws://${target}/v1/routechat?method=POST`;
  const messageJson = JSON.stringify(message);
  return (events: ConnectionEvents) =>
    new Promise<BenchConnection>((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false });
      let opened = false;
      const closeWaiters: ((status: string) => void)[] = [];
      ws.on('message', (data: Buffer) => {
        const frame = JSON.parse(data.toString()) as PeerFrame;
        const location = frame.result?.location;
        // proto3 JSON leaves zeros out (the peer emits defaults, but be lenient).
        if (location) events.onNote(location.latitude ?? 0, location.longitude ?? 0);
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
        const final = code === 1000 || code === 1005 ? 'OK' : `CLOSED_${code}`;
        if (!opened) reject(new Error(`closed before open: ${code}`));
        events.onClosed(final);
        for (const waiter of closeWaiters.splice(0)) waiter(final);
      });
      ws.on('open', () => {
        opened = true;
        const socket = (ws as unknown as { _socket: Socket })._socket;
        resolve({
          send(latitude, longitude) {
            ws.send(
              `{"location":{"latitude":${latitude},"longitude":${longitude}},"message":${messageJson}}`,
            );
          },
          end(timeoutMs) {
            if (ws.readyState !== WebSocket.OPEN) return Promise.resolve('CLOSED');
            ws.close(1000);
            return closedWithin((done) => closeWaiters.push(done), timeoutMs);
          },
          destroy: () => ws.terminate(),
          pauseReading: () => socket.pause(),
          resumeReading: () => socket.resume(),
        });
      });
    });
}
