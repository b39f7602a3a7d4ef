import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import WebSocket from 'ws';
import {
  type ConnectionState,
  type ErrorFrame,
  GatewayError,
  type NoteFrame,
  RouteChatSocket,
  StatusCode,
} from '../../clients/lib/index.js';
import { type RouteNote__Output, routeguide } from '../../proto/index.js';
import { type RunningCore, startCore } from '../helpers/core.js';
import { freePort, type RunningGateway, startGateway } from '../helpers/gateway.js';

let core: RunningCore;
let gw: RunningGateway;
/** Each test chats at its own location: the core keeps notes for the whole process. */
let nextLongitude = 1000;
const freshLocation = () => ({ latitude: 7, longitude: nextLongitude++ });

const connect = (url = gw.wsUrl, extra: Partial<ConstructorParameters<typeof RouteChatSocket>[0]> = {}) =>
  new RouteChatSocket({ url, WebSocket, ...extra });

const collect = async (socket: RouteChatSocket): Promise<NoteFrame[]> => {
  const notes: NoteFrame[] = [];
  for await (const note of socket) notes.push(note);
  return notes;
};

describe('RouteChatSocket in Node against a real gateway and core', () => {
  before(async () => {
    core = await startCore();
    gw = await startGateway(core.address);
  });
  after(async () => {
    await gw.app.close();
    await core.stop();
  });

  test('notes sent come back with every note at their location, in order, through the iterator', async () => {
    const location = freshLocation();
    const socket = connect();
    const received = collect(socket);
    socket.send({ location, message: 'one' });
    socket.send({ location, message: 'two' });
    socket.end();
    assert.deepEqual(
      (await received).map((n) => n.message),
      ['one', 'one', 'two'],
    );
    assert.deepEqual((await received)[0]?.location, location);
  });

  test('end() half-closes: the status is OK with empty metadata and the close is 1000', async () => {
    const socket = connect();
    const states: ConnectionState['name'][] = [];
    socket.on('state', (state) => states.push(state.name));
    socket.send({ location: freshLocation(), message: 'bye' });
    socket.end();
    const outcome = await socket.closed;
    assert.deepEqual(await socket.status, { code: 0, name: 'OK', message: '', metadata: {} });
    assert.equal(outcome.closeCode, 1000);
    assert.equal(outcome.statusFrame, true);
    assert.deepEqual(states, ['half-closed', 'closed']);
    assert.equal(socket.protocol, 'routechat.v1');
  });

  test('typed note events fire for every received note', async () => {
    const socket = connect();
    const messages: string[] = [];
    socket.on('note', (note) => messages.push(note.message));
    const location = freshLocation();
    socket.send({ location, message: 'evented' });
    socket.end();
    await socket.status;
    assert.deepEqual(messages, ['evented']);
  });

  test('a frame the gateway rejects arrives as a typed error event and the stream stays open', async () => {
    const socket = connect();
    const errors: ErrorFrame[] = [];
    socket.on('error', (error) => errors.push(error));
    const received = collect(socket);
    socket.sendRaw(JSON.stringify({ location: { latitude: 'north', longitude: 1 }, message: 'x' }));
    socket.send({ location: freshLocation(), message: 'still open' });
    socket.end();
    assert.deepEqual(
      (await received).map((n) => n.message),
      ['still open'],
    );
    assert.equal((await socket.status).name, 'OK');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.code, 'INVALID_ARGUMENT');
    assert.equal(errors[0]?.reason, 'invalid_note');
    assert.equal(errors[0]?.details[0]?.path, 'location.latitude');
  });

  test('send() refuses an invalid note locally with a GatewayError and its details; nothing is sent', async () => {
    const socket = connect();
    const errors: ErrorFrame[] = [];
    socket.on('error', (error) => errors.push(error));
    assert.throws(
      () => socket.send({ location: { latitude: 1.5, longitude: 0 }, message: 'x' }),
      (error: unknown) =>
        error instanceof GatewayError &&
        error.code === StatusCode.INVALID_ARGUMENT &&
        error.details[0]?.path === 'location.latitude',
    );
    socket.end();
    assert.equal((await socket.status).name, 'OK');
    assert.deepEqual(errors, []);
  });

  test('send() after end() is a FAILED_PRECONDITION GatewayError', async () => {
    const socket = connect();
    socket.end();
    assert.throws(
      () => socket.send({ message: 'late' }),
      (error: unknown) => error instanceof GatewayError && error.code === StatusCode.FAILED_PRECONDITION,
    );
    await socket.status;
  });

  test('close() cancels the stream: status CANCELLED, iteration ends', async () => {
    const socket = connect();
    const received = collect(socket);
    socket.on('state', (state) => {
      if (state.name === 'open') socket.close();
    });
    const status = await socket.status;
    assert.equal(status.name, 'CANCELLED');
    assert.deepEqual(await received, []);
    assert.equal(socket.state.name, 'closed');
  });

  test('no gateway listening: status UNAVAILABLE derived from close 1006, without a status frame', async () => {
    const socket = connect(`ws://127.0.0.1:${await freePort()}/v1/routechat`);
    const outcome = await socket.closed;
    assert.equal(outcome.status.code, StatusCode.UNAVAILABLE);
    assert.equal(outcome.closeCode, 1006);
    assert.equal(outcome.statusFrame, false);
  });

  test('a refused upgrade maps its HTTP status: a foreign Origin gives PERMISSION_DENIED', async () => {
    class WithOrigin extends WebSocket {
      constructor(url: string, protocols: string[]) {
        super(url, protocols, { origin: 'https://evil.example' });
      }
    }
    const outcome = await connect(gw.wsUrl, { WebSocket: WithOrigin }).closed;
    assert.equal(outcome.status.name, 'PERMISSION_DENIED');
    assert.match(outcome.status.message, /HTTP 403/);
  });

  test('core down: the gateway status frame says UNAVAILABLE and the close code is 4014', async () => {
    const down = await startGateway(`127.0.0.1:${await freePort()}`);
    try {
      const socket = connect(down.wsUrl);
      socket.send({ message: 'anyone?' });
      const outcome = await socket.closed;
      assert.equal(outcome.status.name, 'UNAVAILABLE');
      assert.equal(outcome.closeCode, 4014);
      assert.equal(outcome.statusFrame, true);
    } finally {
      await down.app.close();
    }
  });

  test('reconnect (opt-in) retries UNAVAILABLE with backoff until the core is up', async () => {
    const port = await freePort();
    const down = await startGateway(`127.0.0.1:${port}`);
    let lateCore: RunningCore | undefined;
    try {
      const socket = connect(down.wsUrl, { reconnect: { retries: 50, initialDelayMs: 50, maxDelayMs: 300 } });
      const reconnects: number[] = [];
      socket.on('state', (state) => {
        if (state.name === 'reconnecting') reconnects.push(state.delayMs);
      });
      const answered = new Promise<void>((resolve) => socket.on('note', () => resolve()));
      // A new connection is a new stream: whatever was sent on a failed one is gone, so send on each.
      socket.on('state', (state) => {
        if (state.name === 'open') socket.send({ location: freshLocation(), message: 'made it' });
      });
      while (reconnects.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
      lateCore = await startCore({ port });
      await answered;
      socket.end();
      assert.equal((await socket.status).name, 'OK');
      assert.ok(reconnects.length >= 2, `reconnected ${reconnects.length} times`);
    } finally {
      await down.app.close();
      await lateCore?.stop();
    }
  });

  test('without reconnect, UNAVAILABLE is final after one attempt', async () => {
    const socket = connect(`ws://127.0.0.1:${await freePort()}/v1/routechat`);
    const states: string[] = [];
    socket.on('state', (state) => states.push(state.name));
    await socket.closed;
    assert.deepEqual(states, ['closed']);
  });
});

describe('RouteChatSocket bearer token', () => {
  test('bearer.<token> reaches the core as authorization: Bearer <token> on a real gRPC call', async () => {
    // A tiny RouteChat server that answers each note with the call's authorization metadata.
    const server = new grpc.Server();
    server.addService(routeguide.RouteGuide.service, {
      RouteChat(call: grpc.ServerDuplexStream<RouteNote__Output, RouteNote__Output>) {
        const authorization = call.metadata.get('authorization').map(String).join(',');
        call.on('data', (note: RouteNote__Output) => call.write({ ...note, message: authorization }));
        call.on('end', () => call.end());
        call.on('error', () => {});
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    const echo = await startGateway(`127.0.0.1:${port}`);
    try {
      const socket = new RouteChatSocket({ url: echo.wsUrl, WebSocket, token: 's3cret-t0ken' });
      const received = collect(socket);
      socket.send({ message: 'who am I?' });
      socket.end();
      assert.deepEqual(
        (await received).map((n) => n.message),
        ['Bearer s3cret-t0ken'],
      );
      assert.equal(socket.protocol, 'routechat.v1', 'the token is never echoed as the selected protocol');
    } finally {
      await echo.app.close();
      server.forceShutdown();
    }
  });

  test('a token that cannot be a subprotocol is refused up front with INVALID_ARGUMENT', () => {
    assert.throws(
      () => new RouteChatSocket({ url: 'ws://127.0.0.1:1/v1/routechat', WebSocket, token: 'has space' }),
      (error: unknown) => error instanceof GatewayError && error.code === StatusCode.INVALID_ARGUMENT,
    );
  });
});
