/**
 * v2 in front of the official gRPC-Go RouteGuide example server (Debian's
 * golang-google-grpc-dev examples), built by the same builder as the interop suite
 * (test/interop/official-go.ts: once per test run, the example's own proto and testdata).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { connectV2, v2Url } from '../helpers/v2.js';
import {
  buildOfficialGo,
  type OfficialGoServer,
  requireOfficialGo,
  startOfficialGoServer,
} from '../interop/official-go.js';

let server: OfficialGoServer | undefined;
let gateway: RunningGateway | undefined;

after(async () => {
  await gateway?.app.close();
  await server?.kill();
});

describe('protocol v2 in front of the official gRPC-Go RouteGuide server', () => {
  test('all four RouteGuide methods on one socket, answered by grpc-go', { timeout: 400_000 }, async (t) => {
    if (!requireOfficialGo(t)) return;
    const { server: binary } = await buildOfficialGo();
    server = await startOfficialGoServer(binary);
    gateway = await startGateway(server.address);
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    // The server may still be starting: retry GetFeature until it answers.
    let attempt = 0;
    for (;;) {
      const id = `probe${attempt}`;
      client.send({ type: 'open', id, method: 'routeguide.RouteGuide/GetFeature' });
      client.send({ type: 'message', id, message: { latitude: 409146138, longitude: -746188906 } });
      const status = await client.status(id);
      if (status.name === 'OK') break;
      attempt += 1;
      assert.ok(attempt < 50, `the Go server never answered: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    client.send({ type: 'open', id: 'list', method: 'routeguide.RouteGuide/ListFeatures' });
    client.send({ type: 'open', id: 'record', method: 'routeguide.RouteGuide/RecordRoute' });
    client.send({ type: 'open', id: 'chat', method: 'routeguide.RouteGuide/RouteChat' });
    client.send({
      type: 'message',
      id: 'list',
      message: {
        lo: { latitude: 400000000, longitude: -750000000 },
        hi: { latitude: 420000000, longitude: -730000000 },
      },
    });
    client.send({ type: 'message', id: 'record', message: { latitude: 409146138, longitude: -746188906 } });
    client.send({ type: 'message', id: 'record', message: { latitude: 410248224, longitude: -747127767 } });
    client.send({ type: 'end', id: 'record' });
    client.send({
      type: 'message',
      id: 'chat',
      message: { location: { latitude: 0, longitude: 1 }, message: 'first' },
    });
    client.send({
      type: 'message',
      id: 'chat',
      message: { location: { latitude: 0, longitude: 1 }, message: 'second' },
    });
    await client.until(
      (f) => f.filter((x) => x.type === 'message' && x.id === 'chat').length >= 3,
      10_000,
      'chat echoes',
    );
    client.send({ type: 'end', id: 'chat' });
    const probe = client.messages(`probe${attempt}`)[0] as { name: string; location: unknown };
    assert.equal(probe.name, 'Berkshire Valley Management Area Trail, Jefferson, NJ, USA');
    assert.equal((await client.status('list')).name, 'OK');
    assert.ok(client.messages('list').length > 10);
    assert.equal((await client.status('record')).name, 'OK');
    const summary = client.messages('record')[0] as Record<string, number>;
    assert.equal(summary.pointCount, 2);
    assert.ok('elapsedTime' in summary);
    assert.equal((await client.status('chat')).name, 'OK');
    // grpc-go's RouteChat answers each note with every note at that location so far, itself included.
    const at = { latitude: 0, longitude: 1 };
    assert.deepEqual(client.messages('chat'), [
      { location: at, message: 'first' },
      { location: at, message: 'first' },
      { location: at, message: 'second' },
    ]);
    client.ws.close();
  });
});
