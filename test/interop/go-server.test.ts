/**
 * Interop: our gateway in front of the official grpc-go RouteGuide example server, unmodified (built
 * from Debian's golang-google-grpc-dev by official-go.ts, with its own testdata). grpc-go is
 * stricter than our core: an ill-formed string kills its whole stream, so the gateway must stop it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SEED_NOTES, SEED_REPLIES } from '../../clients/seed-notes.js';
import { CloseCode, type ErrorFrame, type NoteFrame, type StatusFrame } from '../../protocol/index.js';
import { connect, isError, isStatus, note, type RunningGateway, startGateway } from '../helpers/gateway.js';
import { assertHostileFramesLoseNothing, HOSTILE_GATEWAY_OPTIONS } from '../helpers/hostile-frames.js';
import {
  buildOfficialGo,
  type OfficialGoBinaries,
  type OfficialGoServer,
  officialGoUnavailable,
  requireOfficialGo,
  startOfficialGoServer,
} from './official-go.js';

const notes = (frames: readonly unknown[]) =>
  frames.filter((f): f is NoteFrame => typeof f === 'object' && f !== null && 'location' in f);
const lastStatus = (frames: readonly unknown[]): StatusFrame => {
  const status = frames.at(-1) as StatusFrame;
  assert.ok(isStatus(status), `last frame is a status: ${JSON.stringify(frames)}`);
  return status;
};

describe('our gateway in front of the official grpc-go RouteGuide server', () => {
  let binaries: OfficialGoBinaries | undefined;
  const running: { server: OfficialGoServer; gateway: RunningGateway }[] = [];

  before(async () => {
    if (officialGoUnavailable() === null) binaries = await buildOfficialGo();
  });
  after(async () => {
    for (const { server, gateway } of running) {
      await gateway.app.close();
      await server.kill();
    }
  });

  /** A fresh official server (its notes start empty) behind a fresh gateway. */
  const startPair = async (bins: OfficialGoBinaries, options: Parameters<typeof startGateway>[1] = {}) => {
    const server = await startOfficialGoServer(bins.server);
    const gateway = await startGateway(server.address, options);
    running.push({ server, gateway });
    return { server, gateway };
  };

  test('the seed scenario through our gateway gives the official sequence, then OK and close 1000', async (t) => {
    if (!requireOfficialGo(t) || !binaries) return;
    const { gateway } = await startPair(binaries);
    const client = connect(gateway.wsUrl);
    await client.opened;
    for (const seed of SEED_NOTES) client.send(seed);
    client.send({ type: 'end' });
    const closed = await client.closed;
    assert.deepEqual(notes(client.frames), SEED_REPLIES);
    assert.equal(lastStatus(client.frames).name, 'OK');
    assert.equal(closed.code, CloseCode.NORMAL);
  });

  test('a note with a lone surrogate gets an invalid_note error frame; the grpc-go stream goes on', async (t) => {
    if (!requireOfficialGo(t) || !binaries) return;
    const { gateway } = await startPair(binaries);
    const client = connect(gateway.wsUrl);
    await client.opened;
    client.send(String.raw`{"location":{"latitude":1,"longitude":2},"message":"a\ud800b"}`);
    client.send(note(1, 2, 'fine'));
    client.send({ type: 'end' });
    const closed = await client.closed;
    const error = client.frames[0] as ErrorFrame;
    assert.ok(isError(error), JSON.stringify(client.frames));
    assert.equal(error.code, 'INVALID_ARGUMENT');
    assert.deepEqual(
      error.details.map((d) => d.path),
      ['message'],
    );
    assert.deepEqual(notes(client.frames), [note(1, 2, 'fine')]);
    assert.equal(lastStatus(client.frames).name, 'OK');
    assert.deepEqual(closed, { code: CloseCode.NORMAL, reason: 'OK' });
  });

  test('hostile frames each get one error frame or are accepted; the grpc-go stream loses nothing', async (t) => {
    if (!requireOfficialGo(t) || !binaries) return;
    const { gateway } = await startPair(binaries, HOSTILE_GATEWAY_OPTIONS);
    await assertHostileFramesLoseNothing(gateway.wsUrl);
  });

  test('the official server killed mid-stream is reported UNAVAILABLE "core unavailable" and 4014, never CANCELLED', async (t) => {
    if (!requireOfficialGo(t) || !binaries) return;
    const { server, gateway } = await startPair(binaries);
    const client = connect(gateway.wsUrl);
    await client.opened;
    client.send(note(5, 5, 'one'));
    client.send(note(5, 5, 'two'));
    await client.waitForFrames(1);
    await server.kill('SIGKILL');
    const closed = await client.closed;
    const status = lastStatus(client.frames);
    assert.equal(status.name, 'UNAVAILABLE', JSON.stringify(status));
    assert.equal(status.message, 'core unavailable');
    assert.deepEqual(closed, { code: 4014, reason: 'UNAVAILABLE' });
  });
});
