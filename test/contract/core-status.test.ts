/**
 * What an outside client learns when something goes wrong between the gateway and the core: a bad
 * string is one error frame, a core that goes away is UNAVAILABLE (never CANCELLED), transport
 * failures carry a plain message (the detail goes to the gateway's log), and the status metadata is
 * the call's trailers only. Real core processes, a real gateway, real WebSocket clients.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CloseCode, type ErrorFrame, type NoteFrame, type StatusFrame } from '../../protocol/index.js';
import { spawnCore, startCore } from '../helpers/core.js';
import {
  connect,
  freePort,
  isError,
  isStatus,
  note,
  startFakeCore,
  startGateway,
  until,
} from '../helpers/gateway.js';
import { spawnGateway } from '../helpers/hardening.js';

const LONE_SURROGATE_NOTE = String.raw`{"location":{"latitude":1,"longitude":2},"message":"a\ud800b"}`;

const lastStatus = (frames: readonly unknown[]): StatusFrame => {
  const status = frames.at(-1);
  assert.ok(isStatus(status as StatusFrame), `last frame is a status: ${JSON.stringify(frames)}`);
  return status as StatusFrame;
};
const notes = (frames: readonly unknown[]) =>
  frames.filter((f): f is NoteFrame => typeof f === 'object' && f !== null && 'location' in f);

/** Transport and reserved headers that are no trailer of the call. */
const RESERVED_METADATA = /^(:|grpc-)|^(content-type|date)$/;

describe('statuses from the core, as a client sees them', () => {
  test('a note whose message has a lone surrogate gets an invalid_note error frame naming message; the stream goes on, no note changes', async () => {
    const core = await startCore();
    const gateway = await startGateway(core.address);
    try {
      const client = connect(gateway.wsUrl);
      await client.opened;
      client.send(LONE_SURROGATE_NOTE);
      client.send(note(1, 2, 'fine'));
      client.send({ type: 'end' });
      const closed = await client.closed;
      const error = client.frames[0] as ErrorFrame;
      assert.ok(isError(error), JSON.stringify(client.frames));
      assert.equal(error.code, 'INVALID_ARGUMENT');
      assert.equal(error.reason, 'invalid_note');
      assert.deepEqual(
        error.details.map((d) => d.path),
        ['message'],
      );
      // Only the good note reached the core: nothing stored as "a\ufffd…b".
      assert.deepEqual(notes(client.frames), [note(1, 2, 'fine')]);
      assert.equal(lastStatus(client.frames).name, 'OK');
      assert.equal(closed.code, CloseCode.NORMAL);
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });

  test('the core unreachable: UNAVAILABLE with the plain message "core unavailable"; the detail is logged under the request id', async () => {
    const port = await freePort();
    const gateway = await spawnGateway(`127.0.0.1:${port}`);
    try {
      const client = connect(gateway.wsUrl, { headers: { 'x-request-id': 'req-core-down-1' } });
      const closed = await client.closed;
      const status = lastStatus(client.frames);
      assert.equal(status.name, 'UNAVAILABLE');
      assert.equal(status.message, 'core unavailable');
      assert.deepEqual(closed, { code: 4014, reason: 'UNAVAILABLE' });
      const wire = JSON.stringify(client.frames) + closed.reason;
      for (const secret of ['ECONNREFUSED', String(port), '127.0.0.1', 'connection established'])
        assert.ok(!wire.includes(secret), `${secret} reached the client: ${wire}`);
      // The log line travels on the process's stdout, the close on the socket: either may come first.
      const isLogged = (line: string) => line.includes('req-core-down-1') && line.includes('ECONNREFUSED');
      await until(() => gateway.lines.some(isLogged), 5000, 'the log line').catch(() => {});
      assert.ok(
        gateway.lines.some(isLogged),
        `the transport detail is logged with the request id:\n${gateway.lines.join('\n')}`,
      );
    } finally {
      await gateway.stop('SIGKILL');
    }
  });

  test('a core drained with SIGTERM under an open stream: UNAVAILABLE and close 4014, never CANCELLED', async () => {
    const core = await spawnCore(['--shutdown-grace', '200ms']);
    const gateway = await startGateway(core.address);
    try {
      const client = connect(gateway.wsUrl);
      await client.opened;
      client.send(note(7, 7, 'open'));
      await client.waitForFrames(1);
      core.child.kill('SIGTERM');
      const closed = await client.closed;
      const status = lastStatus(client.frames);
      assert.equal(status.name, 'UNAVAILABLE', JSON.stringify(status));
      assert.deepEqual(closed, { code: 4014, reason: 'UNAVAILABLE' });
    } finally {
      await gateway.app.close();
      await core.stop('SIGKILL');
    }
  });

  test('a CANCELLED status sent by the core is reported as UNAVAILABLE (4014): the client did not cancel', async () => {
    const fake = await startFakeCore((call) => {
      call.on('data', () => {
        call.emit('error', {
          code: grpc.status.CANCELLED,
          details: 'going away',
          metadata: new grpc.Metadata(),
        });
      });
    });
    const gateway = await startGateway(fake.address);
    try {
      const client = connect(gateway.wsUrl);
      await client.opened;
      client.send(note(1, 1, 'x'));
      const closed = await client.closed;
      const status = lastStatus(client.frames);
      assert.equal(status.name, 'UNAVAILABLE');
      assert.equal(status.code, grpc.status.UNAVAILABLE);
      assert.deepEqual(closed, { code: 4014, reason: 'UNAVAILABLE' });
    } finally {
      await gateway.app.close();
      await fake.stop();
    }
  });

  test('the core killed mid-stream: UNAVAILABLE with the plain message "core unavailable"', async () => {
    const core = await spawnCore();
    const gateway = await startGateway(core.address);
    try {
      const client = connect(gateway.wsUrl);
      await client.opened;
      client.send(note(1, 1, 'before the crash'));
      await client.waitForFrames(1);
      core.child.kill('SIGKILL');
      const closed = await client.closed;
      const status = lastStatus(client.frames);
      assert.equal(status.name, 'UNAVAILABLE');
      assert.equal(status.message, 'core unavailable');
      assert.deepEqual(closed, { code: 4014, reason: 'UNAVAILABLE' });
    } finally {
      await gateway.app.close();
      await core.stop();
    }
  });

  test('a message the core sets deliberately passes through unchanged', async () => {
    const fake = await startFakeCore((call) => {
      call.on('data', () => {
        call.emit('error', {
          code: grpc.status.UNAVAILABLE,
          details: 'server shutting down',
          metadata: new grpc.Metadata(),
        });
      });
    });
    const gateway = await startGateway(fake.address);
    try {
      const client = connect(gateway.wsUrl);
      await client.opened;
      client.send(note(1, 1, 'x'));
      await client.closed;
      const status = lastStatus(client.frames);
      assert.equal(status.name, 'UNAVAILABLE');
      assert.equal(status.message, 'server shutting down');
    } finally {
      await gateway.app.close();
      await fake.stop();
    }
  });

  test('a call that ends at once: the status metadata holds the trailers only, no content-type, date or grpc-*', async () => {
    const core = await startCore();
    const fake = await startFakeCore((call) => {
      const trailers = new grpc.Metadata();
      trailers.set('x-reason', 'quota');
      call.emit('error', { code: grpc.status.PERMISSION_DENIED, details: 'no', metadata: trailers });
    });
    const gateway = await startGateway(core.address);
    const fakeGateway = await startGateway(fake.address);
    try {
      const client = connect(gateway.wsUrl);
      await client.opened;
      client.send({ type: 'end' });
      await client.closed;
      const ok = lastStatus(client.frames);
      assert.equal(ok.name, 'OK');
      assert.deepEqual(ok.metadata, {});

      const refused = connect(fakeGateway.wsUrl);
      await refused.closed;
      const denied = lastStatus(refused.frames);
      assert.equal(denied.name, 'PERMISSION_DENIED');
      assert.equal(denied.message, 'no');
      assert.equal(denied.metadata['x-reason'], 'quota');
      for (const key of Object.keys(denied.metadata)) assert.doesNotMatch(key, RESERVED_METADATA);
    } finally {
      await gateway.app.close();
      await fakeGateway.app.close();
      await core.stop();
      await fake.stop();
    }
  });
});
