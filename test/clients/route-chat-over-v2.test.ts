/**
 * RouteChatSocket over one v2 stream of a shared GatewayClient (v2-routechat-transport.ts), against
 * a real gateway and core: the seed's RouteChat sequence, every note's fate, and a Watch on the
 * same socket.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import {
  type ErrorFrameV2,
  GatewayClient,
  type NoteFate,
  type NoteFrame,
  RouteChatSocket,
  routeChatOverV2,
} from '../../clients/lib/index.js';
import { SEED_NOTES, SEED_REPLY_MESSAGES } from '../../clients/seed-notes.js';
import { type RunningCore, startCore } from '../helpers/core.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';

describe('RouteChatSocket over a v2 stream, against a real gateway and core', () => {
  let core: RunningCore;
  let gw: RunningGateway;
  // A core of its own: the seed's replies assume no earlier notes at its places.
  before(async () => {
    core = await startCore();
    gw = await startGateway(core.address);
  });
  after(async () => {
    await gw?.app.close();
    await core?.stop();
  });

  test("the seed's RouteChat sequence over one shared v2 socket: every reply, every note confirmed, status OK and 1000", async () => {
    const v2Url = `${gw.httpUrl.replace(/^http/, 'ws')}/v2`;
    const sockets: string[] = [];
    class CountedWebSocket extends WebSocket {
      constructor(url: string, protocols: string[]) {
        super(url, protocols);
        sockets.push(url);
      }
    }
    const client = new GatewayClient(v2Url, { WebSocket: CountedWebSocket });
    const chat = new RouteChatSocket({ url: v2Url, WebSocket: routeChatOverV2(client) });
    const fates: NoteFate[] = [];
    chat.on('fate', (fate) => fates.push(fate));
    const notes: NoteFrame[] = [];
    const collected = (async () => {
      for await (const note of chat) notes.push(note);
    })();
    const settled = SEED_NOTES.map((note) => chat.send(note));
    chat.end();
    const outcome = await chat.closed;
    await collected;
    assert.deepEqual(
      notes.map((note) => note.message),
      SEED_REPLY_MESSAGES,
    );
    assert.equal(outcome.status.name, 'OK');
    assert.equal(outcome.closeCode, 1000);
    assert.equal(outcome.statusFrame, true);
    const final = await Promise.all(settled);
    assert.deepEqual(
      final.map((fate) => fate.fate),
      SEED_NOTES.map(() => 'confirmed'),
    );
    assert.deepEqual(
      fates.map((fate) => fate.note.message),
      SEED_NOTES.map((note) => note.message),
    );
    // A second call on the same client: same socket.
    const feature = await client.unary('routeguide.RouteGuide/GetFeature', { latitude: 0, longitude: 1 });
    assert.equal(typeof feature.name, 'string');
    assert.deepEqual(sockets, [v2Url]);
    client.close();
  });
  test("{ transport: routeChatOverV2(client) }: the gateway's v2 reasons arrive unchanged, and the stream goes on", async () => {
    const v2Url = `${gw.httpUrl.replace(/^http/, 'ws')}/v2`;
    const client = new GatewayClient({ url: v2Url, WebSocket });
    const chat = new RouteChatSocket({ transport: routeChatOverV2(client) });
    const errors: ErrorFrameV2[] = [];
    chat.on('error', (frame) => errors.push(frame));
    chat.sendRaw(JSON.stringify({ location: { latitude: 'north', longitude: 1 }, message: 'x' }));
    const fate = chat.send({ location: { latitude: 5, longitude: 5 }, message: 'still open' });
    chat.end();
    assert.equal((await chat.status).name, 'OK');
    assert.equal((await fate).fate, 'confirmed');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.reason, 'invalid_message', 'v2 says invalid_message; v1 would say invalid_note');
    assert.equal(errors[0]?.code, 'INVALID_ARGUMENT');
    assert.match(errors[0]?.details[0]?.path ?? '', /latitude/);
    client.close();
  });
});
