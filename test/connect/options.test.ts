/**
 * The transport's options that need no gateway: baseUrl → the /v2 URL, and a socket whose server
 * did not select gateway.v2.binary when useBinaryFormat asked for it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGatewayTransport, gatewayV2Url } from '../../clients/lib/connect/index.js';
import type { WebSocketConstructor } from '../../clients/lib/index.js';
import { RouteGuide } from '../../proto/es/route_guide_pb.js';
import { ScriptedSocket } from '../helpers/scripted-websocket.js';

describe('createGatewayTransport options', () => {
  test('baseUrl: http(s) becomes ws(s), a path prefix is kept, the transport uses its /v2', () => {
    assert.equal(gatewayV2Url('http://localhost:8080'), 'ws://localhost:8080/v2');
    assert.equal(gatewayV2Url('https://gw.example.com/'), 'wss://gw.example.com/v2');
    assert.equal(gatewayV2Url('wss://gw.example.com/api/'), 'wss://gw.example.com/api/v2');
    assert.equal(gatewayV2Url('ws://127.0.0.1:9?x=1#y'), 'ws://127.0.0.1:9/v2');
  });

  test('a baseUrl that is not a URL, or of another scheme, is InvalidArgument at creation', () => {
    for (const baseUrl of ['not a url', 'ftp://host/']) {
      assert.throws(
        () => createGatewayTransport({ baseUrl }),
        (error: unknown) => error instanceof ConnectError && error.code === Code.InvalidArgument,
      );
    }
  });

  test('useBinaryFormat: a socket opened without gateway.v2.binary fails the call Unimplemented, nothing sent', async () => {
    // Browsers and ws already fail a handshake whose subprotocol was not offered (or is missing);
    // a WebSocket that does not check gets here, and must not send binary frames to a JSON peer.
    ScriptedSocket.made = [];
    const transport = createGatewayTransport({
      baseUrl: 'ws://127.0.0.1:9',
      WebSocket: ScriptedSocket as unknown as WebSocketConstructor,
      useBinaryFormat: true,
    });
    try {
      const call = createClient(RouteGuide, transport).getFeature({ latitude: 1, longitude: 2 });
      const socket = ScriptedSocket.made[0];
      assert.ok(socket);
      assert.deepEqual(socket.protocols, ['gateway.v2.binary']);
      socket.readyState = 1;
      socket.protocol = 'gateway.v2';
      socket.emit('open', {});
      await assert.rejects(
        call,
        (error: unknown) =>
          error instanceof ConnectError &&
          error.code === Code.Unimplemented &&
          /did not select gateway\.v2\.binary/.test(error.rawMessage),
      );
      assert.deepEqual(socket.sent, []);
    } finally {
      transport.close();
    }
  });
});
