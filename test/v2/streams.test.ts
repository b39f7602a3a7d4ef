/**
 * v2 stream isolation against a scripted core: a stalled call does not stall its neighbours
 * (credit flow control), every status and its trailers reach their stream, and shutdown gives
 * every open stream a status before 1001.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { RouteNote__Output } from '../../proto/index.js';
import { type FakeCore, type RunningGateway, startFakeCore, startGateway } from '../helpers/gateway.js';
import { connectV2, v2Url } from '../helpers/v2.js';

let core: FakeCore;
let gateway: RunningGateway;

/** The scripted RouteChat: `x-mode: stall` never reads; `x-status: N` ends with status N and a trailer; else echo. */
before(async () => {
  core = await startFakeCore((call) => {
    const mode = String(call.metadata.get('x-mode')[0] ?? 'echo');
    const code = Number(call.metadata.get('x-status')[0] ?? -1);
    if (mode === 'stall') {
      call.pause();
      return;
    }
    if (code >= 0) {
      const trailers = new grpc.Metadata();
      trailers.set('x-trailer', 'kept');
      call.emit('error', { code, details: `status ${code} from the core`, metadata: trailers });
      return;
    }
    call.on('data', (note: RouteNote__Output) => call.write(note));
    call.on('end', () => call.end());
  });
  gateway = await startGateway(core.address, { 'shutdown-grace': '2s' });
});
after(async () => {
  await gateway.app.close();
  await core.stop();
});

const CHAT = 'routeguide.RouteGuide/RouteChat';

describe('protocol v2 streams against a scripted core', () => {
  test('a stalled upstream call runs out of credit on its own stream; the other streams keep flowing', async () => {
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    client.send({ type: 'open', id: 'stuck', method: CHAT, metadata: { 'x-mode': 'stall' } });
    client.send({ type: 'open', id: 'live', method: CHAT });
    const big = 'n'.repeat(16 * 1024);
    // A client that ignores credit: far more than the window, into a call that never reads.
    for (let i = 0; i < 120; i += 1) client.send({ type: 'message', id: 'stuck', message: { message: big } });
    await client.until(
      (f) => f.some((x) => x.type === 'error' && x.id === 'stuck' && x.reason === 'no_credit'),
      15_000,
      'no_credit',
    );
    const noCredit = client.of('stuck').find((f) => f.type === 'error');
    assert.equal(noCredit?.type === 'error' && noCredit.code, 'RESOURCE_EXHAUSTED');
    for (let i = 0; i < 5; i += 1)
      client.send({ type: 'message', id: 'live', message: { message: `m${i}` } });
    await client.until(
      (f) => f.filter((x) => x.type === 'message' && x.id === 'live').length >= 5,
      10_000,
      'live echoes',
    );
    client.send({ type: 'end', id: 'live' });
    assert.equal((await client.status('live')).name, 'OK');
    // Past the rejection limit the stalled stream ends; the socket stays open.
    assert.equal((await client.status('stuck')).name, 'RESOURCE_EXHAUSTED');
    assert.equal(client.ws.readyState, client.ws.OPEN, 'the socket stays open');
    client.send({ type: 'open', id: 'after', method: CHAT });
    client.send({ type: 'message', id: 'after', message: { message: 'still works' } });
    client.send({ type: 'end', id: 'after' });
    assert.equal((await client.status('after')).name, 'OK');
    client.ws.close();
  });

  test('a simple client that keeps a few messages in flight gets credit back without asking', async () => {
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    client.send({ type: 'open', id: 'chat', method: CHAT });
    for (let i = 0; i < 100; i += 1) {
      client.send({ type: 'message', id: 'chat', message: { message: `m${i}` } });
      await client.until((f) => f.filter((x) => x.type === 'message' && x.id === 'chat').length > i);
    }
    assert.ok(
      client.of('chat').some((f) => f.type === 'credit'),
      'credit frames were sent',
    );
    assert.ok(!client.frames.some((f) => f.type === 'error'), 'no error');
    client.send({ type: 'end', id: 'chat' });
    assert.equal((await client.status('chat')).name, 'OK');
    client.ws.close();
  });

  test('every status reaches its own stream with its trailers, without transport keys', async () => {
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    const codes = [3, 5, 6, 7, 8, 9, 10, 11, 13, 14, 15, 16];
    for (const code of codes)
      client.send({ type: 'open', id: `s${code}`, method: CHAT, metadata: { 'x-status': String(code) } });
    for (const code of codes) {
      const status = await client.status(`s${code}`);
      assert.equal(status.code, code, `stream s${code}`);
      assert.equal(status.message, `status ${code} from the core`);
      assert.deepEqual(status.metadata, { 'x-trailer': 'kept' });
    }
    assert.equal(client.ws.readyState, client.ws.OPEN);
    client.ws.close();
  });

  test('a CANCELLED the client did not ask for is UNAVAILABLE "core unavailable", the same rule as v1', async () => {
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    client.send({ type: 'open', id: 'c', method: CHAT, metadata: { 'x-status': '1' } });
    const status = await client.status('c');
    assert.deepEqual(
      { code: status.code, name: status.name, message: status.message, metadata: status.metadata },
      { code: 14, name: 'UNAVAILABLE', message: 'core unavailable', metadata: { 'x-trailer': 'kept' } },
    );
    client.ws.close();
  });
});

describe('protocol v2 shutdown', () => {
  test('every open stream gets a status, then the socket closes with 1001', async () => {
    const own = await startGateway(core.address, { 'shutdown-grace': '1s' });
    const client = connectV2(v2Url(own.port));
    await client.opened;
    client.send({ type: 'open', id: 'echo', method: CHAT });
    client.send({ type: 'open', id: 'stuck', method: CHAT, metadata: { 'x-mode': 'stall' } });
    client.send({ type: 'message', id: 'echo', message: { message: 'before' } });
    await client.until((f) => f.some((x) => x.type === 'message'));
    const closing = own.app.close();
    const closed = await client.closed;
    await closing;
    assert.equal(closed.code, 1001);
    // Half-closed by the gateway, the echo call ends OK; the stalled one is cancelled at the grace's end.
    assert.equal(
      client.of('echo').at(-1)?.type === 'status' && (client.of('echo').at(-1) as { name: string }).name,
      'OK',
    );
    const stuck = client.of('stuck').at(-1);
    assert.equal(stuck?.type, 'status');
    assert.equal(stuck?.type === 'status' && stuck.name, 'UNAVAILABLE');
  });
});
