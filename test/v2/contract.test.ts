/**
 * The v2 contract on the wire, against the real core: the four method kinds, many streams on one
 * socket, isolation, half-close and cancel, timeouts, statuses, shutdown.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type RunningCore, startCore } from '../helpers/core.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { connectV2, v2Url } from '../helpers/v2.js';

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

const RECT = { lo: { latitude: 400000000, longitude: -750000000 }, hi: { latitude: 420000000, longitude: -730000000 } };

describe('protocol v2 against the core', () => {
  test('the four method kinds run at the same time on one socket', async () => {
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    assert.equal(client.ws.protocol, 'gateway.v2');
    client.send({ type: 'open', id: 'get', method: 'routeguide.RouteGuide/GetFeature' });
    client.send({ type: 'open', id: 'list', method: 'routeguide.RouteGuide/ListFeatures' });
    client.send({ type: 'open', id: 'record', method: 'routeguide.RouteGuide/RecordRoute' });
    client.send({ type: 'open', id: 'chat', method: 'routeguide.RouteGuide/RouteChat' });
    client.send({ type: 'message', id: 'get', message: { latitude: 409146138, longitude: -746188906 } });
    client.send({ type: 'message', id: 'list', message: RECT });
    client.send({ type: 'message', id: 'record', message: { latitude: 409146138, longitude: -746188906 } });
    client.send({ type: 'message', id: 'record', message: { latitude: '410248224', longitude: -747127767 } });
    client.send({ type: 'end', id: 'record' });
    client.send({ type: 'message', id: 'chat', message: { location: { latitude: 1, longitude: 2 }, message: 'hi' } });
    client.send({ type: 'end', id: 'chat' });

    const get = await client.status('get');
    assert.equal(get.name, 'OK');
    assert.deepEqual(client.messages('get'), [
      { name: 'Berkshire Valley Management Area Trail, Jefferson, NJ, USA', location: { latitude: 409146138, longitude: -746188906 } },
    ]);
    assert.equal((await client.status('list')).name, 'OK');
    assert.ok(client.messages('list').length > 10, 'ListFeatures streams many features');
    assert.equal((await client.status('record')).name, 'OK');
    const [summary] = client.messages('record') as { pointCount: number; featureCount: number; distance: number; elapsedTime: number }[];
    assert.equal(summary?.pointCount, 2);
    assert.equal(summary?.featureCount, 2);
    assert.ok((summary?.distance ?? 0) > 0);
    assert.ok('elapsedTime' in (summary ?? {}), 'every field present, in proto3 JSON names');
    assert.equal((await client.status('chat')).name, 'OK');
    // The status is the last frame of every stream.
    for (const id of ['get', 'list', 'record', 'chat']) assert.equal(client.of(id).at(-1)?.type, 'status');
    client.ws.close(1000);
    assert.equal((await client.closed).code, 1000);
  });

  test('one hundred concurrent streams on one socket each get their answer', async () => {
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    for (let i = 0; i < 100; i += 1) {
      client.send({ type: 'open', id: `s${i}`, method: 'routeguide.RouteGuide/RouteChat' });
    }
    for (let i = 0; i < 100; i += 1) {
      client.send({ type: 'message', id: `s${i}`, message: { location: { latitude: 7, longitude: i }, message: `m${i}` } });
    }
    // Each stream sees its own note echoed back as the other streams add theirs: wait for all to be open, then end.
    await client.until((f) => f.filter((x) => x.type === 'message').length >= 100, 20_000, '100 messages');
    for (let i = 0; i < 100; i += 1) client.send({ type: 'end', id: `s${i}` });
    await client.until((f) => f.filter((x) => x.type === 'status').length >= 100, 20_000, '100 statuses');
    for (let i = 0; i < 100; i += 1) assert.equal((await client.status(`s${i}`)).name, 'OK', `s${i}`);
    client.ws.close();
  });
});
