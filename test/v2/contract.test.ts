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

const RECT = {
  lo: { latitude: 400000000, longitude: -750000000 },
  hi: { latitude: 420000000, longitude: -730000000 },
};

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
    client.send({
      type: 'message',
      id: 'chat',
      message: { location: { latitude: 1, longitude: 2 }, message: 'hi' },
    });
    client.send({ type: 'end', id: 'chat' });

    const get = await client.status('get');
    assert.equal(get.name, 'OK');
    assert.deepEqual(client.messages('get'), [
      {
        name: 'Berkshire Valley Management Area Trail, Jefferson, NJ, USA',
        location: { latitude: 409146138, longitude: -746188906 },
      },
    ]);
    assert.equal((await client.status('list')).name, 'OK');
    assert.ok(client.messages('list').length > 10, 'ListFeatures streams many features');
    assert.equal((await client.status('record')).name, 'OK');
    const [summary] = client.messages('record') as {
      pointCount: number;
      featureCount: number;
      distance: number;
      elapsedTime: number;
    }[];
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

  test("responseHeaders: the core's headers come as one headers frame before the first message, only when asked and only when the core sent any", async () => {
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    const here = { latitude: 409146138, longitude: -746188906 };
    client.send({
      type: 'open',
      id: 'asked',
      method: 'routeguide.RouteGuide/GetFeature',
      responseHeaders: true,
    });
    client.send({ type: 'message', id: 'asked', message: here });
    client.send({ type: 'open', id: 'plain', method: 'routeguide.RouteGuide/GetFeature' });
    client.send({ type: 'message', id: 'plain', message: here });
    // The core refuses an out-of-range point with its status alone (Trailers-Only): no headers.
    client.send({
      type: 'open',
      id: 'refused',
      method: 'routeguide.RouteGuide/RecordRoute',
      responseHeaders: true,
    });
    client.send({ type: 'message', id: 'refused', message: { latitude: 999999999, longitude: 0 } });
    client.send({ type: 'end', id: 'refused' });
    // Watch sends its headers at once, before any note: the frame comes while nothing else has.
    client.send({ type: 'open', id: 'watch', method: 'routeguide.NoteFeed/Watch', responseHeaders: true });
    client.send({ type: 'message', id: 'watch', message: RECT });
    for (const id of ['asked', 'plain', 'refused']) await client.status(id);
    await client.until(
      (f) => f.some((x) => x.type === 'headers' && x.id === 'watch'),
      5000,
      'the Watch headers',
    );
    client.send({ type: 'cancel', id: 'watch' });
    await client.status('watch');

    const kinds = (id: string) => client.of(id).map((frame) => frame.type);
    assert.deepEqual(kinds('asked'), ['headers', 'message', 'status']);
    assert.deepEqual(client.of('asked')[0], { type: 'headers', id: 'asked', metadata: {} });
    assert.deepEqual(kinds('plain'), ['message', 'status']);
    assert.equal((await client.status('refused')).name, 'INVALID_ARGUMENT');
    assert.ok(!kinds('refused').includes('headers'), `refused: ${kinds('refused').join(', ')}`);
    assert.deepEqual(kinds('watch'), ['headers', 'status']);
    client.ws.close();
  });

  test('one hundred concurrent streams on one socket each get their answer', async () => {
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    for (let i = 0; i < 100; i += 1) {
      client.send({ type: 'open', id: `s${i}`, method: 'routeguide.RouteGuide/RouteChat' });
    }
    for (let i = 0; i < 100; i += 1) {
      client.send({
        type: 'message',
        id: `s${i}`,
        message: { location: { latitude: 7, longitude: i }, message: `m${i}` },
      });
    }
    // Each stream sees its own note echoed back as the other streams add theirs: wait for all to be open, then end.
    await client.until((f) => f.filter((x) => x.type === 'message').length >= 100, 20_000, '100 messages');
    for (let i = 0; i < 100; i += 1) client.send({ type: 'end', id: `s${i}` });
    await client.until((f) => f.filter((x) => x.type === 'status').length >= 100, 20_000, '100 statuses');
    for (let i = 0; i < 100; i += 1) assert.equal((await client.status(`s${i}`)).name, 'OK', `s${i}`);
    client.ws.close();
  });
});

describe('protocol v2: one stream never touches the others', () => {
  test('bad frames, an unknown method, a cancel and a timeout each end only their own stream', async () => {
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    client.send({ type: 'open', id: 'good', method: 'routeguide.RouteGuide/RouteChat' });
    client.send({ type: 'open', id: 'nope', method: 'routeguide.RouteGuide/Teleport' });
    client.send({ type: 'open', id: 'bad', method: 'routeguide.RouteGuide/RouteChat' });
    client.send({ type: 'message', id: 'bad', message: { location: { latitude: '0x10' }, message: 'x' } });
    client.send({ type: 'message', id: 'bad', message: { message: 'lone \ud800 surrogate' } });
    client.send({ type: 'message', id: 'bad', message: { location: { latitude: 2 ** 31 } } });
    client.send({ type: 'message', id: 'bad', message: { nope: 1 } });
    client.send({ type: 'open', id: 'gone', method: 'routeguide.RouteGuide/RouteChat' });
    client.send({ type: 'cancel', id: 'gone' });
    client.send({ type: 'open', id: 'late', method: 'routeguide.RouteGuide/RouteChat', timeoutMs: 150 });

    assert.equal((await client.status('nope')).name, 'UNIMPLEMENTED');
    const cancelled = await client.status('gone');
    assert.equal(cancelled.name, 'CANCELLED');
    const late = await client.status('late');
    assert.equal(late.name, 'DEADLINE_EXCEEDED');
    assert.equal(late.message, 'deadline exceeded', 'a transport status gets a plain message');
    await client.until((f) => f.filter((x) => x.type === 'error' && x.id === 'bad').length >= 4);
    const errors = client.of('bad').filter((f) => f.type === 'error');
    assert.deepEqual(
      errors.map((e) => (e.type === 'error' ? [e.code, e.reason, e.details[0]?.path] : [])),
      [
        ['INVALID_ARGUMENT', 'invalid_message', 'message.location.latitude'],
        ['INVALID_ARGUMENT', 'invalid_message', 'message.message'],
        ['INVALID_ARGUMENT', 'invalid_message', 'message.location.latitude'],
        ['INVALID_ARGUMENT', 'invalid_message', 'message.nope'],
      ],
    );
    // The stream with bad frames goes on: a valid message still reaches the core.
    client.send({
      type: 'message',
      id: 'bad',
      message: { location: { latitude: 5, longitude: 5 }, message: 'fine' },
    });
    client.send({ type: 'end', id: 'bad' });
    assert.equal((await client.status('bad')).name, 'OK');
    // And the first stream was never disturbed.
    client.send({
      type: 'message',
      id: 'good',
      message: { location: { latitude: 9, longitude: 9 }, message: 'still here' },
    });
    client.send({ type: 'end', id: 'good' });
    assert.equal((await client.status('good')).name, 'OK');
    assert.equal(client.ws.readyState, client.ws.OPEN);
    client.ws.close();
  });

  test('frames naming no stream get an error without id; the 20th closes the socket with 1008 after every stream gets a status', async () => {
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    client.send({ type: 'open', id: 'live', method: 'routeguide.RouteGuide/RouteChat' });
    client.send('not json');
    client.send({ type: 'message', id: 'nobody', message: {} });
    client.send({ type: 'teleport', id: 'x' });
    await client.until((f) => f.filter((x) => x.type === 'error').length >= 3);
    for (const frame of client.frames.filter((f) => f.type === 'error')) assert.ok(!('id' in frame), 'no id');
    assert.deepEqual(
      client.frames.flatMap((f) => (f.type === 'error' ? [f.reason] : [])),
      ['invalid_json', 'unknown_stream', 'invalid_frame_type'],
    );
    for (let i = 0; i < 17; i += 1) client.send('[]');
    const closed = await client.closed;
    assert.equal(closed.code, 1008);
    const status = client.of('live').at(-1);
    assert.equal(status?.type, 'status');
  });

  test('open metadata cannot set reserved keys or authorization: that stream gets INVALID_ARGUMENT', async () => {
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    client.send({
      type: 'open',
      id: 'a',
      method: 'routeguide.RouteGuide/GetFeature',
      metadata: { 'grpc-timeout': '1S' },
    });
    client.send({
      type: 'open',
      id: 'b',
      method: 'routeguide.RouteGuide/GetFeature',
      metadata: { authorization: 'Bearer x' },
    });
    client.send({
      type: 'open',
      id: 'c',
      method: 'routeguide.RouteGuide/GetFeature',
      metadata: { 'x-fine': 'yes' },
    });
    client.send({ type: 'message', id: 'c', message: {} });
    assert.equal((await client.status('a')).name, 'INVALID_ARGUMENT');
    assert.equal((await client.status('b')).name, 'INVALID_ARGUMENT');
    assert.equal((await client.status('c')).name, 'OK');
    client.ws.close();
  });
});

describe('protocol v2: limits', () => {
  let limited: RunningGateway;
  before(async () => {
    limited = await startGateway(core.address, {
      'max-streams-per-socket': 2,
      'max-message-size': '1KiB',
      methods: 'routeguide.RouteGuide/RouteChat,routeguide.RouteGuide/GetFeature',
    });
  });
  after(async () => limited.app.close());

  test('an open past --max-streams-per-socket gets RESOURCE_EXHAUSTED; a method outside --methods PERMISSION_DENIED', async () => {
    const client = connectV2(v2Url(limited.port));
    await client.opened;
    client.send({ type: 'open', id: 'x', method: 'routeguide.RouteGuide/ListFeatures' });
    assert.equal((await client.status('x')).name, 'PERMISSION_DENIED');
    client.send({ type: 'open', id: 'a', method: 'routeguide.RouteGuide/RouteChat' });
    client.send({ type: 'open', id: 'b', method: 'routeguide.RouteGuide/RouteChat' });
    client.send({ type: 'open', id: 'c', method: 'routeguide.RouteGuide/RouteChat' });
    assert.equal((await client.status('c')).name, 'RESOURCE_EXHAUSTED');
    assert.equal(client.of('a').length, 0, 'the open streams are untouched');
    client.send({ type: 'cancel', id: 'a' });
    await client.status('a');
    client.send({ type: 'open', id: 'd', method: 'routeguide.RouteGuide/RouteChat' });
    client.send({ type: 'end', id: 'd' });
    assert.equal((await client.status('d')).name, 'OK', 'a freed slot can be used again');
    client.ws.close();
  });

  test('a message over --max-message-size is that stream’s RESOURCE_EXHAUSTED error; the stream goes on', async () => {
    const client = connectV2(v2Url(limited.port));
    await client.opened;
    client.send({ type: 'open', id: 'big', method: 'routeguide.RouteGuide/RouteChat' });
    client.send({ type: 'message', id: 'big', message: { message: 'x'.repeat(2000) } });
    await client.until((f) => f.some((x) => x.type === 'error'));
    const error = client.of('big')[0];
    assert.equal(error?.type === 'error' && error.reason, 'message_too_large');
    assert.equal(error?.type === 'error' && error.code, 'RESOURCE_EXHAUSTED');
    client.send({ type: 'message', id: 'big', message: { message: 'small' } });
    client.send({ type: 'end', id: 'big' });
    assert.equal((await client.status('big')).name, 'OK');
    assert.equal(client.ws.readyState, client.ws.OPEN);
    client.ws.close();
  });
});
