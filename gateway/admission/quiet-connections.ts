/**
 * Connections with no response under way, closed at shutdown. Node 20's `server.close()` closes idle
 * keep-alive connections, but not one that has sent nothing yet or is part-way through its headers
 * (nodejs/node#63452, fixed in later Node by #63470), and close() stops the header-timeout checks that
 * would have ended them: one such socket (a browser's speculative preconnect, or anyone's `nc`) held
 * the gateway's exit for 60 s after SIGTERM, until the connection timeout.
 */
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';

export interface QuietConnections {
  /** Ends every connection that has no response under way (upgraded ones are the drain's). */
  closeQuiet(): void;
  stop(): void;
}

interface Tracked {
  readonly socket: Socket;
  readonly forget: () => void;
  /** Responses being written. */
  responding: number;
}

/**
 * The connection a request came on. Over TLS, `connection` gives the TCP socket and a request the
 * TLS socket over it; both have the peer's address and port, unique among live connections.
 */
const keyOf = (socket: Socket): string => `${socket.remoteAddress}|${socket.remotePort}`;

export function trackQuietConnections(server: HttpServer | HttpsServer): QuietConnections {
  const connections = new Map<string, Tracked>();

  const onConnection = (socket: Socket) => {
    const key = keyOf(socket);
    const forget = () => connections.delete(key);
    connections.set(key, { socket, forget, responding: 0 });
    socket.once('close', forget);
  };
  const onRequest = (request: IncomingMessage, response: ServerResponse) => {
    const tracked = connections.get(keyOf(request.socket));
    if (!tracked) return;
    tracked.responding += 1;
    response.once('close', () => {
      tracked.responding -= 1;
    });
  };
  // An upgraded socket is its WebSocket's from here (the session drain closes it); it keeps nothing
  // of ours for its lifetime.
  const onUpgrade = (request: IncomingMessage) => {
    const key = keyOf(request.socket);
    const tracked = connections.get(key);
    if (!tracked) return;
    connections.delete(key);
    tracked.socket.off('close', tracked.forget);
  };
  server.on('connection', onConnection);
  server.on('request', onRequest);
  server.on('upgrade', onUpgrade);

  return {
    closeQuiet() {
      for (const tracked of connections.values()) if (tracked.responding === 0) tracked.socket.destroy();
    },
    stop() {
      server.off('connection', onConnection);
      server.off('request', onRequest);
      server.off('upgrade', onUpgrade);
    },
  };
}
