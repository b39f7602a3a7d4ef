/**
 * v2 any-method path: a test service with every field kind (test/fixtures/kitchen_sink.proto,
 * served by grpc-js here) through --proto, and our core's services learnt through --reflection.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { REPO_ROOT, type RunningCore, startCore } from '../helpers/core.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { connectV2, v2Url } from '../helpers/v2.js';

const KITCHEN_PROTO = `${REPO_ROOT}test/fixtures/kitchen_sink.proto`;

async function startKitchenSink(): Promise<{ address: string; stop(): void }> {
  const definition = protoLoader.loadSync(KITCHEN_PROTO, { keepCase: true });
  const service = (
    grpc.loadPackageDefinition(definition) as unknown as {
      kitchen: { v1: { KitchenSink: grpc.ServiceClientConstructor } };
    }
  ).kitchen.v1.KitchenSink.service;
  const server = new grpc.Server();
  server.addService(service, {
    Echo: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
      callback(null, call.request),
    Repeat: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      for (let i = 0; i < 3; i += 1) call.write(call.request);
      call.end();
    },
    Collect: (
      call: grpc.ServerReadableStream<{ f_int32: number }, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      let sum = 0;
      call.on('data', (m: { f_int32: number }) => {
        sum += m.f_int32;
      });
      call.on('end', () => callback(null, { f_int32: sum }));
    },
    Mirror: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      call.on('data', (m) => call.write(m));
      call.on('end', () => call.end());
    },
    Nothing: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(null, {}),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  return { address: `127.0.0.1:${port}`, stop: () => server.forceShutdown() };
}

/** A request using every field kind, in proto3 JSON (input accepts proto names too: f_uint32). */
const EVERYTHING_IN = {
  fDouble: 1.5,
  fFloat: 'Infinity',
  fInt32: '-42',
  fInt64: '-9007199254740993',
  f_uint32: 4294967295,
  fUint64: '18446744073709551615',
  fSint32: -7,
  fSint64: '-8',
  fFixed32: 9,
  fFixed64: '10',
  fSfixed32: -11,
  fSfixed64: '-12',
  fBool: true,
  fString: 'héllo 🌍',
  fBytes: 'AAEC/w==',
  color: 'COLOR_GREEN',
  inner: { label: 'in', values: [1, 2] },
  tags: ['a', 'b'],
  inners: [{ label: 'x' }],
  counts: { k: '123' },
  byId: { '7': { label: 'seven' } },
  choiceText: 'chosen',
  maybe: 0,
  at: '2024-01-02T03:04:05.500Z',
  took: '1.5s',
  extra: { a: [1, 'two', null, { b: true }] },
  wrapped: '77',
  mask: 'fInt32,inner.label',
  anyValue: null,
  colors: ['COLOR_RED', 2],
  nested: { level: 'LEVEL_HIGH' },
};

describe('protocol v2: any method from .proto files', () => {
  let kitchen: { address: string; stop(): void };
  let gateway: RunningGateway;
  before(async () => {
    kitchen = await startKitchenSink();
    gateway = await startGateway(kitchen.address, { proto: KITCHEN_PROTO });
  });
  after(async () => {
    await gateway.app.close();
    kitchen.stop();
  });

  test('every field kind round-trips in proto3 JSON, every field present in the answer', async () => {
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    client.send({ type: 'open', id: 'e', method: 'kitchen.v1.KitchenSink/Echo' });
    client.send({ type: 'message', id: 'e', message: EVERYTHING_IN });
    assert.equal((await client.status('e')).name, 'OK');
    const [out] = client.messages('e') as Record<string, unknown>[];
    assert.deepEqual(out, {
      fDouble: 1.5,
      fFloat: 'Infinity',
      fInt32: -42,
      fInt64: '-9007199254740993',
      fUint32: 4294967295,
      fUint64: '18446744073709551615',
      fSint32: -7,
      fSint64: '-8',
      fFixed32: 9,
      fFixed64: '10',
      fSfixed32: -11,
      fSfixed64: '-12',
      fBool: true,
      fString: 'héllo 🌍',
      fBytes: 'AAEC/w==',
      color: 'COLOR_GREEN',
      inner: { label: 'in', values: [1, 2] },
      tags: ['a', 'b'],
      inners: [{ label: 'x', values: [] }],
      counts: { k: '123' },
      byId: { '7': { label: 'seven', values: [] } },
      choiceText: 'chosen',
      maybe: 0,
      at: '2024-01-02T03:04:05.500Z',
      took: '1.500s',
      extra: { a: [1, 'two', null, { b: true }] },
      wrapped: '77',
      mask: 'fInt32,inner.label',
      // null is a value for google.protobuf.Value (NullValue), so the field is set.
      anyValue: null,
      colors: ['COLOR_RED', 'COLOR_GREEN'],
      nested: { level: 'LEVEL_HIGH' },
    });
    client.ws.close();
  });

  test('v1 rules for the same field types: paths for every problem', async () => {
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    client.send({ type: 'open', id: 'm', method: 'kitchen.v1.KitchenSink/Mirror' });
    client.send({
      type: 'message',
      id: 'm',
      message: {
        fInt32: '0x10',
        fInt64: '0b11',
        fUint32: -1,
        fString: '\udc00',
        fBytes: 'not base64!',
        color: 'PURPLE',
        tags: ['ok', null],
        counts: { k: 'x' },
        choiceText: 'a',
        choiceNumber: 1,
        unknownField: 1,
      },
    });
    await client.until((f) => f.some((x) => x.type === 'error'));
    const error = client.of('m')[0];
    assert.equal(error?.type, 'error');
    const paths = error?.type === 'error' ? error.details.map((d) => d.path) : [];
    assert.deepEqual(paths, [
      'message.fInt32',
      'message.fInt64',
      'message.fUint32',
      'message.fString',
      'message.fBytes',
      'message.color',
      'message.tags.1',
      'message.counts.k',
      'message.choiceNumber',
      'message.unknownField',
    ]);
    client.send({ type: 'end', id: 'm' });
    assert.equal((await client.status('m')).name, 'OK');
    client.ws.close();
  });

  test('server-streaming, client-streaming and bidi methods of the test service', async () => {
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    client.send({ type: 'open', id: 'r', method: 'kitchen.v1.KitchenSink/Repeat' });
    client.send({ type: 'message', id: 'r', message: { fString: 'again' } });
    client.send({ type: 'open', id: 'c', method: 'kitchen.v1.KitchenSink/Collect' });
    for (const n of [1, 2, 3]) client.send({ type: 'message', id: 'c', message: { fInt32: n } });
    client.send({ type: 'end', id: 'c' });
    client.send({ type: 'open', id: 'n', method: 'kitchen.v1.KitchenSink/Nothing' });
    client.send({ type: 'message', id: 'n', message: {} });
    assert.equal((await client.status('r')).name, 'OK');
    assert.equal(client.messages('r').length, 3);
    assert.equal((await client.status('c')).name, 'OK');
    assert.equal((client.messages('c')[0] as { fInt32: number }).fInt32, 6);
    assert.equal((await client.status('n')).name, 'OK');
    assert.deepEqual(client.messages('n'), [{}]);
    client.ws.close();
  });
});

describe('protocol v2: services through server reflection', () => {
  let core: RunningCore;
  let gateway: RunningGateway;
  before(async () => {
    core = await startCore();
    gateway = await startGateway(core.address, { reflection: true });
  });
  after(async () => {
    await gateway.app.close();
    await core.stop();
  });

  test('--reflection learns RouteGuide from the core; GetFeature answers in proto3 JSON', async () => {
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    client.send({ type: 'open', id: 'g', method: 'routeguide.RouteGuide/GetFeature' });
    client.send({ type: 'message', id: 'g', message: { latitude: 409146138, longitude: -746188906 } });
    assert.equal((await client.status('g')).name, 'OK');
    assert.match(String((client.messages('g')[0] as { name: string }).name), /Berkshire/);
    client.ws.close();
  });
});
