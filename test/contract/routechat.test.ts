/**
 * The v1 contract on the wire: a real core server on an ephemeral port, a real gateway, real
 * WebSocket clients. Written against the socket only, so it could judge any gateway.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SEED_NOTES } from '../../clients/grpc/walkthrough.js';
import { SEED_REPLIES } from '../../clients/seed-notes.js';
import { CloseCode, type ErrorFrame, type NoteFrame, serverFrameSchema } from '../../protocol/index.js';
import { type RunningCore, startCore } from '../helpers/core.js';
import { connect, isError, isStatus, note, type RunningGateway, startGateway } from '../helpers/gateway.js';

const text = (frames: unknown[]) =>
  frames
    .filter((f): f is NoteFrame => typeof f === 'object' && f !== null && 'location' in f)
    .map((f) => `${f.location.latitude},${f.location.longitude}:${f.message}`);

describe('RouteChat over WebSocket (v1 contract)', () => {
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

  test('the seed scenario through the gateway gives the official sequence, then status OK and close 1000', async () => {
    const fresh = await startCore();
    const gw = await startGateway(fresh.address);
    try {
      const client = connect(gw.wsUrl);
      await client.opened;
      assert.equal(client.ws.protocol, 'routechat.v1');
      for (const n of SEED_NOTES) client.send(n);
      client.send({ type: 'end' });
      const closed = await client.closed;
      assert.deepEqual(
        text(client.frames),
        SEED_REPLIES.map((n) => `${n.location.latitude},${n.location.longitude}:${n.message}`),
      );
      assert.deepEqual(client.frames.at(-1), {
        type: 'status',
        code: 0,
        name: 'OK',
        message: '',
        metadata: {},
      });
      assert.deepEqual(closed, { code: CloseCode.NORMAL, reason: 'OK' });
      for (const frame of client.frames)
        assert.ok(serverFrameSchema.safeParse(frame).success, JSON.stringify(frame));
    } finally {
      await gw.app.close();
      await fresh.stop();
    }
  });

  test('notes arrive while the client is still sending (no buffering until end)', async () => {
    const client = connect(gateway.wsUrl);
    await client.opened;
    for (let i = 1; i <= 3; i += 1) {
      client.send(note(77, i, `live ${i}`));
      // Each reply is awaited before the next note is sent: the stream is never half-closed here.
      const frames = await client.waitForFrames(i);
      assert.equal((frames.at(-1) as NoteFrame).message, `live ${i}`);
    }
    client.ws.close();
    await client.closed;
  });

  test('after end the gateway keeps relaying what the server still sends, then the status', async () => {
    const client = connect(gateway.wsUrl);
    await client.opened;
    for (let i = 0; i < 50; i += 1) client.send(note(78, 1, `burst ${i}`));
    client.send({ type: 'end' });
    await client.closed;
    const notes = text(client.frames);
    // Note i is answered with all i+1 notes at that location: 1 + 2 + … + 50.
    assert.equal(notes.length, (50 * 51) / 2);
    const last = client.frames.at(-1);
    assert.ok(isStatus(last) && last.code === 0);
  });

  test('omitted fields take proto defaults and int32 values may be decimal strings', async () => {
    const client = connect(gateway.wsUrl);
    await client.opened;
    client.send({ location: { latitude: '79', longitude: '-5' } });
    client.send({ message: 'no location' });
    client.send({ type: 'end' });
    await client.closed;
    assert.deepEqual(client.frames.slice(0, 2), [
      { location: { latitude: 79, longitude: -5 }, message: '' },
      { location: { latitude: 0, longitude: 0 }, message: 'no location' },
    ]);
  });

  test('each malformed frame kind gets its error frame, is not forwarded, and the stream goes on', async () => {
    const client = connect(gateway.wsUrl);
    await client.opened;
    const bad: [unknown, ErrorFrame['reason'], string | undefined][] = [
      ['not json', 'invalid_json', undefined],
      ['[1,2]', 'not_an_object', undefined],
      ['"a string"', 'not_an_object', undefined],
      [{ location: { latitude: 1.5, longitude: 0 } }, 'invalid_note', 'location.latitude'],
      [{ location: { latitude: 2 ** 31, longitude: 0 } }, 'invalid_note', 'location.latitude'],
      [{ location: { latitude: 0, longitude: 0 }, message: 'x', extra: true }, 'invalid_note', 'extra'],
      [{ message: 42 }, 'invalid_note', 'message'],
      [{ type: 'start' }, 'invalid_frame_type', 'type'],
      ['{"__proto__":{"polluted":true}}', 'invalid_json', undefined],
      [`${'['.repeat(50)}${']'.repeat(50)}`, 'too_complex', undefined],
    ];
    for (const [frame] of bad) client.send(frame);
    client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    client.send(note(80, 1, 'still here'));
    const frames = await client.waitForFrames(bad.length + 2);
    bad.forEach(([, reason, path], i) => {
      const error = frames[i] as ErrorFrame;
      assert.equal(error.type, 'error', `frame ${i}`);
      assert.equal(error.code, 'INVALID_ARGUMENT');
      assert.equal(error.reason, reason, `frame ${i}: ${error.message}`);
      if (path) assert.equal(error.details[0]?.path, path);
      assert.ok(error.message.length > 0);
    });
    assert.equal((frames[bad.length] as ErrorFrame).reason, 'binary_frame');
    assert.deepEqual(frames[bad.length + 1], note(80, 1, 'still here'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    client.send({ type: 'end' });
    client.send(note(80, 1, 'after end'));
    await client.closed;
    const afterEnd = client.frames.find((f) => isError(f) && f.reason === 'after_end');
    assert.ok(afterEnd, 'a note after end is answered with an error frame');
    assert.ok(isStatus(client.frames.at(-1)));
    assert.ok(!text(client.frames).includes('80,1:after end'));
  });

  test('after 20 rejected frames the gateway sends a status and closes with 1008', async () => {
    const client = connect(gateway.wsUrl);
    await client.opened;
    for (let i = 0; i < 25; i += 1) client.send('nope');
    const closed = await client.closed;
    assert.equal(closed.code, CloseCode.POLICY_VIOLATION);
    const errors = client.frames.filter(isError);
    assert.equal(errors.length, 20);
    const last = client.frames.at(-1);
    assert.ok(isStatus(last) && last.name === 'INVALID_ARGUMENT');
  });

  test('a frame over the size limit closes with 1009 and cancels the call', async () => {
    const gw = await startGateway(core.address, { 'max-frame-size': '1KiB' });
    try {
      const client = connect(gw.wsUrl);
      await client.opened;
      client.send(note(81, 1, 'x'.repeat(2048)));
      const closed = await client.closed;
      assert.equal(closed.code, CloseCode.MESSAGE_TOO_BIG);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(gw.upstream.stats().activeCalls, 0);
    } finally {
      await gw.app.close();
    }
  });

  test('GET /healthz answers while the process lives and /readyz reflects the core', async () => {
    const health = await fetch(`${gateway.httpUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');
    const ready = await fetch(`${gateway.httpUrl}/readyz`);
    assert.equal(ready.status, 200);
    const orphan = await startGateway('127.0.0.1:1');
    try {
      const notReady = await fetch(`${orphan.httpUrl}/readyz`);
      assert.equal(notReady.status, 503);
      assert.deepEqual(await notReady.json(), { status: 'not_ready', reason: 'core_unavailable' });
    } finally {
      await orphan.app.close();
    }
  });

  test('a plain HTTP GET on the WebSocket endpoint is answered 426 Upgrade Required', async () => {
    const response = await fetch(gateway.wsUrl.replace('ws:', 'http:'));
    assert.equal(response.status, 426);
  });
});
