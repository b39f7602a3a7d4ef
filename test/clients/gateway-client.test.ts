import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { GatewayClient, GatewayError, type WebSocketConstructor } from '../../clients/lib/index.js';
import { type RunningCore, startCore } from '../helpers/core.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { v2Url } from '../helpers/v2.js';

let core: RunningCore;
let gateway: RunningGateway;
before(async () => {
  core = await startCore();
  gateway = await startGateway(core.address);
});
after(async () => {
  await gateway.app.close();
  await core.stop();
});

describe('GatewayClient (protocol v2)', () => {
  test('unary, serverStream, clientStream and bidi over one socket, in proto3 JSON names', async () => {
    const client = new GatewayClient(v2Url(gateway.port), {
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    });
    const chat = client.bidi('routeguide.RouteGuide/RouteChat');
    const [feature, features, summary] = await Promise.all([
      client.unary('routeguide.RouteGuide/GetFeature', { latitude: 409146138, longitude: -746188906 }),
      (async () => {
        const out = [];
        for await (const f of client.serverStream('routeguide.RouteGuide/ListFeatures', {
          lo: { latitude: 400000000, longitude: -750000000 },
          hi: { latitude: 420000000, longitude: -730000000 },
        }))
          out.push(f);
        return out;
      })(),
      client.clientStream('routeguide.RouteGuide/RecordRoute', [
        { latitude: 409146138, longitude: -746188906 },
        { latitude: 410248224, longitude: -747127767 },
      ]),
    ]);
    assert.match(feature.name ?? '', /Berkshire/);
    assert.ok(features.length > 10);
    assert.equal(summary.pointCount, 2);
    chat.send({ location: { latitude: 3, longitude: 3 }, message: 'hello' });
    chat.end();
    assert.equal((await chat.status).name, 'OK');
    await assert.rejects(
      client.unary(
        'routeguide.RouteGuide/GetFeature',
        { latitude: 'x' as unknown as number },
        { timeoutMs: 5000 },
      ),
      (error: unknown) => error instanceof GatewayError,
    );
    client.close();
  });
});
