/**
 * Protocol v2's binary encoding (`gateway.v2.binary`) on the wire, from a client's and an
 * attacker's side: a real gateway in front of a real core (and a scripted core that never reads),
 * raw ws clients. Every limit the protocol documents for binary frames is exercised here.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { type RouteNote, RouteNoteSchema } from '../../proto/es/route_guide_pb.js';
import {
  binaryFramePrefix,
  binaryMessageFrame,
  V2_BINARY_SUBPROTOCOL,
  V2_SUBPROTOCOL,
} from '../../protocol/v2/index.js';
import { type RunningCore, startCore } from '../helpers/core.js';
import { type FakeCore, type RunningGateway, startFakeCore, startGateway } from '../helpers/gateway.js';
import { connectV2, type V2TestClient, v2Url } from '../helpers/v2.js';

const CHAT = 'routeguide.RouteGuide/RouteChat';
const MAX_MESSAGE = 2048;
const MAX_FRAME = 16 * 1024;

const noteBytes = (message: string, latitude = 1, longitude = 2): Uint8Array =>
  toBinary(RouteNoteSchema, create(RouteNoteSchema, { location: { latitude, longitude }, message }));
const readNote = (bytes: Uint8Array | undefined): RouteNote =>
  fromBinary(RouteNoteSchema, bytes ?? new Uint8Array());

let core: RunningCore;
let gateway: RunningGateway;
let stallingCore: FakeCore;
let stallingGateway: RunningGateway;
const clients: V2TestClient[] = [];

async function binaryClient(target: RunningGateway = gateway): Promise<V2TestClient> {
  const client = connectV2(v2Url(target.port), { protocols: [V2_BINARY_SUBPROTOCOL] });
  clients.push(client);
  await client.opened;
  return client;
}

/** A location no note was sent to before: the core's reply to a note there is that note alone. */
let freshLongitude = 1000;

/** Opens a RouteChat on `client`, sends one note and waits for its echo: the stream works. */
async function chatWorks(client: V2TestClient, id: string, text: string): Promise<void> {
  freshLongitude += 1;
  if (!client.of(id).length && !client.binary.some((b) => b?.id === id))
    client.send({ type: 'open', id, method: CHAT, metadata: {} });
  const before = client.binary.filter((b) => b?.id === id).length;
  client.sendBinary(id, noteBytes(text, 9, freshLongitude));
  await client.until(
    () => client.binary.filter((b) => b?.id === id).length > before,
    10_000,
    `an echo on ${id}`,
  );
  assert.equal(readNote(client.binary.filter((b) => b?.id === id).at(-1)?.message).message, text);
}

before(async () => {
  core = await startCore();
  gateway = await startGateway(core.address, {
    'max-message-size': MAX_MESSAGE,
    'max-frame-size': MAX_FRAME,
    'max-rejected-frames': 5,
    'rate-limit': 0,
  });
  stallingCore = await startFakeCore((call) => call.pause());
  stallingGateway = await startGateway(stallingCore.address);
});
after(async () => {
  for (const client of clients) client.ws.terminate();
  await gateway.app.close();
  await stallingGateway.app.close();
  await core.stop();
  await stallingCore.stop();
});

describe('protocol v2 binary frames (gateway.v2.binary)', { timeout: 60_000 }, () => {
  test('the gateway selects gateway.v2.binary when offered, and gateway.v2 when that is offered', async () => {
    const binary = await binaryClient();
    assert.equal(binary.ws.protocol, V2_BINARY_SUBPROTOCOL);
    const json = connectV2(v2Url(gateway.port), { protocols: [V2_SUBPROTOCOL] });
    clients.push(json);
    await json.opened;
    assert.equal(json.ws.protocol, V2_SUBPROTOCOL);
  });

  test('message frames carry protobuf bytes both ways; open, end and status stay JSON', async () => {
    const client = await binaryClient();
    client.send({ type: 'open', id: 'chat', method: CHAT });
    client.sendBinary('chat', noteBytes('first', 5, 6));
    client.sendBinary('chat', noteBytes('second', 5, 6));
    client.send({ type: 'end', id: 'chat' });
    assert.equal((await client.status('chat')).name, 'OK');
    const replies = client.binary.filter((b) => b?.id === 'chat').map((b) => readNote(b?.message));
    assert.deepEqual(
      replies.map((n) => [n.message, n.location?.latitude, n.location?.longitude]),
      [
        ['first', 5, 6],
        ['first', 5, 6],
        ['second', 5, 6],
      ],
    );
    assert.equal(client.messages('chat').length, 0, 'no JSON message frames');
  });

  test('an empty message (every field at its default) is a message', async () => {
    const client = await binaryClient();
    client.send({ type: 'open', id: 'get', method: 'routeguide.RouteGuide/GetFeature' });
    client.sendBinary('get', new Uint8Array());
    assert.equal((await client.status('get')).name, 'OK');
    assert.equal(client.binary.filter((b) => b?.id === 'get').length, 1);
  });

  test('a malformed binary frame gets invalid_binary_frame and costs only itself', async () => {
    const client = await binaryClient();
    const neighbour = await binaryClient();
    await chatWorks(client, 'a', 'before');
    await chatWorks(neighbour, 'n', 'before');
    const malformed = [
      new Uint8Array([0x01, 0x00]), // too short
      new Uint8Array([0x02, 0x00, 0x01, 0x61]), // unknown kind
      new Uint8Array([0x01, 0x00, 0x09, 0x61]), // id length past the end
      new Uint8Array([0x01, 0x00, 0x00, 0x61]), // empty id
      new Uint8Array([0x01, 0x00, 0x02, 0xc3, 0x28]), // id not UTF-8
    ];
    // Under the socket's budget of 5: each is answered, nothing else is touched.
    for (const frame of malformed.slice(0, 4)) client.ws.send(frame);
    await client.until((f) => f.filter((x) => x.type === 'error').length >= 4, 10_000, 'four errors');
    const errors = client.frames.filter((x) => x.type === 'error');
    for (const error of errors) {
      assert.equal(error.type === 'error' && error.reason, 'invalid_binary_frame');
      assert.equal(error.type === 'error' && error.code, 'INVALID_ARGUMENT');
      assert.equal('id' in error ? error.id : undefined, undefined);
    }
    assert.match(errors[1]?.type === 'error' ? errors[1].message : '', /unknown binary frame kind 0x02/);
    await chatWorks(client, 'a', 'after');
    await chatWorks(neighbour, 'n', 'after');
  });

  test('past the socket rejection budget, malformed binary frames close the socket 1008; other sockets go on', async () => {
    const client = await binaryClient();
    const neighbour = await binaryClient();
    await chatWorks(neighbour, 'n', 'before');
    for (let i = 0; i < 5; i += 1) client.ws.send(new Uint8Array([0x07, 0, 1, 0x61]));
    const closed = await client.closed;
    assert.equal(closed.code, 1008);
    await chatWorks(neighbour, 'n', 'after');
  });

  test('bytes that are not the request type are rejected invalid_message on their stream, which goes on', async () => {
    const client = await binaryClient();
    const invalid: [string, Uint8Array][] = [
      ['truncated', new Uint8Array([0x12, 0x05, 0x61])],
      ['wrong wire type for message (a string)', new Uint8Array([0x10, 0x00])],
      ['unknown field 3', new Uint8Array([0x18, 0x05])],
      ['ill-formed UTF-8', new Uint8Array([0x12, 0x02, 0xff, 0xfe])],
      ['wrong wire type inside location', new Uint8Array([0x0a, 0x02, 0x0a, 0x00])],
    ];
    // Two streams: the budget of rejections per stream is 5 here (--max-rejected-frames).
    const streamOf = (i: number) => (i < 3 ? 'a' : 'b');
    await chatWorks(client, 'a', 'before');
    await chatWorks(client, 'b', 'before');
    for (const [i, [, bytes]] of invalid.entries()) client.sendBinary(streamOf(i), bytes);
    await client.until(
      (f) => f.filter((x) => x.type === 'error').length >= invalid.length,
      10_000,
      'an error per invalid message',
    );
    const errors = client.frames.filter((x) => x.type === 'error');
    errors.forEach((error, i) => {
      assert.equal(error.type === 'error' && error.reason, 'invalid_message', invalid[i]?.[0]);
      assert.equal(error.type === 'error' && error.id, streamOf(i));
    });
    assert.match(
      errors[2]?.type === 'error' ? errors[2].message : '',
      /field number 3 is not a field of routeguide\.RouteNote/,
    );
    assert.match(errors[4]?.type === 'error' ? errors[4].message : '', /location\.latitude/);
    assert.equal(client.ws.readyState, client.ws.OPEN);
    await chatWorks(client, 'a', 'after');
    await chatWorks(client, 'b', 'after');
  });

  test('a binary message over --max-message-size is rejected message_too_large on its stream', async () => {
    const client = await binaryClient();
    client.send({ type: 'open', id: 'big', method: CHAT });
    client.sendBinary('big', noteBytes('x'.repeat(MAX_MESSAGE)));
    await client.until((f) => f.some((x) => x.type === 'error' && x.id === 'big'), 10_000, 'an error');
    const error = client.of('big').find((x) => x.type === 'error');
    assert.equal(error?.type === 'error' && error.reason, 'message_too_large');
    assert.equal(error?.type === 'error' && error.code, 'RESOURCE_EXHAUSTED');
    await chatWorks(client, 'big', 'small enough');
  });

  test('a binary frame over --max-frame-size closes the socket 1009', async () => {
    const client = await binaryClient();
    client.send({ type: 'open', id: 'huge', method: CHAT });
    client.sendBinary('huge', new Uint8Array(MAX_FRAME + 1));
    assert.equal((await client.closed).code, 1009);
  });

  test("past a stream's rejection budget its stream ends; the socket and its other streams go on", async () => {
    const client = await binaryClient(stallingGateway);
    client.send({ type: 'open', id: 'bad', method: CHAT });
    client.send({ type: 'open', id: 'good', method: 'routeguide.RouteGuide/GetFeature' });
    for (let i = 0; i < 20; i += 1) client.sendBinary('bad', new Uint8Array([0x18, 0x05]));
    const status = await client.status('bad');
    assert.equal(status.name, 'INVALID_ARGUMENT');
    assert.match(status.message, /too many rejected frames on this stream \(20\)/);
    assert.equal(client.ws.readyState, client.ws.OPEN);
  });

  test('binary messages use credit: past the window of a call that does not read, no_credit', async () => {
    const client = await binaryClient(stallingGateway);
    client.send({ type: 'open', id: 'stuck', method: CHAT });
    const big = noteBytes('n'.repeat(16 * 1024));
    for (let i = 0; i < 120; i += 1) client.sendBinary('stuck', big);
    await client.until(
      (f) => f.some((x) => x.type === 'error' && x.id === 'stuck' && x.reason === 'no_credit'),
      15_000,
      'no_credit',
    );
  });

  test('a JSON message frame on a binary socket is rejected text_message; a binary frame on gateway.v2 binary_frame', async () => {
    const client = await binaryClient();
    client.send({ type: 'open', id: 't', method: CHAT });
    client.send({ type: 'message', id: 't', message: { message: 'as JSON' } });
    await client.until((f) => f.some((x) => x.type === 'error' && x.id === 't'), 10_000, 'an error');
    const error = client.of('t').find((x) => x.type === 'error');
    assert.equal(error?.type === 'error' && error.reason, 'text_message');
    await chatWorks(client, 't', 'as bytes');
    const json = connectV2(v2Url(gateway.port));
    clients.push(json);
    await json.opened;
    json.send({ type: 'open', id: 'j', method: CHAT });
    json.ws.send(binaryMessageFrame(binaryFramePrefix('j'), noteBytes('bytes')));
    await json.until((f) => f.some((x) => x.type === 'error'), 10_000, 'an error');
    const refused = json.frames.find((x) => x.type === 'error');
    assert.equal(refused?.type === 'error' && refused.reason, 'binary_frame');
  });

  test('a binary message for a stream that is not open is unknown_stream', async () => {
    const client = await binaryClient();
    client.sendBinary('nowhere', noteBytes('lost'));
    await client.until((f) => f.some((x) => x.type === 'error'), 10_000, 'an error');
    const error = client.frames.find((x) => x.type === 'error');
    assert.equal(error?.type === 'error' && error.reason, 'unknown_stream');
  });

  test('binary frames count against the rate limit: a flood is rate_limited and closed 1008', async () => {
    const limited = await startGateway(core.address, {
      'rate-limit': 20,
      'rate-burst': 5,
      'flood-grace': '300ms',
    });
    try {
      const client = await binaryClient(limited);
      client.send({ type: 'open', id: 'flood', method: CHAT });
      const deadline = Date.now() + 10_000;
      let closed = false;
      void client.closed.then(() => {
        closed = true;
      });
      while (!closed && Date.now() < deadline) {
        client.sendBinary('flood', noteBytes('f'));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      assert.equal((await client.closed).code, 1008);
      assert.ok(client.frames.some((x) => x.type === 'error' && x.reason === 'rate_limited'));
    } finally {
      await limited.app.close();
    }
  });
});
