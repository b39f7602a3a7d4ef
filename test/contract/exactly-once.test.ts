/**
 * Idempotent notes end to end: a real core process on a real redis-server, the gateway, real
 * WebSockets. A stream carrying a producer session (v1: query parameters of the upgrade URL, v2:
 * `open.metadata`) is cut with notes stored but their replies never read; the client reopens with
 * the same session and the sequence of its first unconfirmed note and resends from there. Each
 * note is stored exactly once, and each resend is answered as the first copy was.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { RouteNote } from '../../proto/index.js';
import type { ServerFrame } from '../../protocol/index.js';
import { type SpawnedProcess, spawnCore } from '../helpers/core.js';
import {
  connect,
  isError,
  isStatus,
  type RunningGateway,
  startGateway,
  type TestClient,
  until,
} from '../helpers/gateway.js';
import { noteCounters } from '../helpers/prometheus.js';
import { type RedisServer, removeDir, startRedis } from '../helpers/redis.js';
import { connectV2, type V2TestClient, v2Url } from '../helpers/v2.js';

const CHAT = 'routeguide.RouteGuide/RouteChat';
/** A regression must fail, not hang on a socket that never closes. */
const BOUNDED = { timeout: 20_000 };

let redis: RedisServer;
let core: SpawnedProcess & { address: string; metricsUrl: string };
let gateway: RunningGateway;

before(async () => {
  redis = await startRedis();
  core = await spawnCore(['--note-store', redis.url, '--redis-key-prefix', 'once:']);
  gateway = await startGateway(core.address);
});
after(async () => {
  await gateway?.app.close();
  await core?.stop('SIGKILL');
  await redis?.stop('SIGKILL');
  if (redis) removeDir(redis);
});

const coreCounters = () => noteCounters(core.metricsUrl);

async function storedAtLeast(count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await coreCounters()).stored < count) {
    if (Date.now() > deadline) throw new Error(`the core did not store ${count} notes`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const at =
  (longitude: number) =>
  (message: string): RouteNote => ({
    location: { latitude: 21, longitude },
    message,
  });
const noteMessages = (frames: readonly ServerFrame[]) =>
  frames.flatMap((frame) => ('type' in frame ? [] : [frame.message]));

/** What a plain (at-most-once) v1 RouteChat at that place answers a new note with: the place's notes. */
async function readBack(note: RouteNote): Promise<string[]> {
  const client = connect(gateway.wsUrl);
  await client.opened;
  client.send(note);
  client.send({ type: 'end' });
  await client.closed;
  return noteMessages(client.frames);
}

/** The replies RouteChat gives notes n0…n(k) sent one after another at one place: [n0], [n0, n1], … */
const replies = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) =>
    Array.from({ length: from + i + 1 }, (_, j) => `n${j}`),
  ).flat();

describe('exactly-once notes through the gateway (a core on Redis)', () => {
  test(
    'v1: the session in the upgrade URL; a cut stream resent from its first unconfirmed note',
    BOUNDED,
    async () => {
      const note = at(1);
      const session = 'v1-producer-0001';
      const url = (sequence: number) => `${gateway.wsUrl}?note-session=${session}&note-sequence=${sequence}`;
      const base = await coreCounters();

      const first = connect(url(0));
      await first.opened;
      first.send(note('n0'));
      first.send(note('n1'));
      await first.waitForFrames(3);
      // From here on the client reads nothing: n2…n4 are stored, their replies never arrive.
      first.ws.pause();
      for (const message of ['n2', 'n3', 'n4']) first.send(note(message));
      await storedAtLeast(base.stored + 5);
      first.ws.terminate();
      assert.deepEqual(
        noteMessages(first.frames),
        replies(0, 1),
        'n0 and n1 confirmed, n2 is the first unconfirmed',
      );

      const second = connect(url(2));
      await second.opened;
      for (const message of ['n2', 'n3', 'n4', 'n5']) second.send(note(message));
      second.send({ type: 'end' });
      assert.equal((await second.closed).code, 1000);
      assert.deepEqual(
        noteMessages(second.frames),
        replies(2, 5),
        'each resend answered as the first copy was',
      );

      assert.deepEqual(await readBack(note('check')), ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'check']);
      const now = await coreCounters();
      assert.deepEqual(
        { stored: now.stored - base.stored, deduplicated: now.deduplicated - base.deduplicated },
        { stored: 7, deduplicated: 3 },
      );
    },
  );

  test(
    'v2: the session in open.metadata; a cut stream resent from its first unconfirmed note',
    BOUNDED,
    async () => {
      const note = at(2);
      const metadata = (sequence: number) => ({
        'note-session': 'v2-producer-0001',
        'note-sequence': `${sequence}`,
      });
      const messagesOf = (client: V2TestClient, id: string) =>
        client.messages(id).map((message) => (message as RouteNote).message);
      const base = await coreCounters();

      const first = connectV2(v2Url(gateway.port));
      await first.opened;
      first.send({ type: 'open', id: 'a', method: CHAT, metadata: metadata(0) });
      first.send({ type: 'message', id: 'a', message: note('n0') });
      first.send({ type: 'message', id: 'a', message: note('n1') });
      await first.until((frames) => frames.filter((f) => f.type === 'message').length === 3);
      first.ws.pause();
      for (const message of ['n2', 'n3', 'n4'])
        first.send({ type: 'message', id: 'a', message: note(message) });
      await storedAtLeast(base.stored + 5);
      first.ws.terminate();
      assert.deepEqual(messagesOf(first, 'a'), replies(0, 1));

      const second = connectV2(v2Url(gateway.port));
      await second.opened;
      second.send({ type: 'open', id: 'b', method: CHAT, metadata: metadata(2) });
      for (const message of ['n2', 'n3', 'n4', 'n5'])
        second.send({ type: 'message', id: 'b', message: note(message) });
      second.send({ type: 'end', id: 'b' });
      assert.equal((await second.status('b')).name, 'OK');
      assert.deepEqual(messagesOf(second, 'b'), replies(2, 5));
      second.ws.close();

      assert.deepEqual(await readBack(note('check')), ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'check']);
      const now = await coreCounters();
      assert.deepEqual(
        { stored: now.stored - base.stored, deduplicated: now.deduplicated - base.deduplicated },
        { stored: 7, deduplicated: 3 },
      );
    },
  );

  test('two producers with the same sequence numbers at one place are both stored', BOUNDED, async () => {
    const note = at(3);
    for (const session of ['producer-aaaa', 'producer-bbbb']) {
      const client = connect(`${gateway.wsUrl}?note-session=${session}&note-sequence=0`);
      await client.opened;
      client.send(note(session));
      client.send({ type: 'end' });
      await client.closed;
    }
    assert.deepEqual(await readBack(note('check')), ['producer-aaaa', 'producer-bbbb', 'check']);
  });
});

describe('bad producer sessions are INVALID_ARGUMENT', () => {
  /** The v1 socket's status frame and close code for an upgrade URL with this query. */
  async function v1Refusal(query: string): Promise<{ message: string; code: number }> {
    const client: TestClient = connect(`${gateway.wsUrl}?${query}`);
    await client.opened;
    client.send(at(4)('never stored'));
    const { code } = await client.closed;
    const status = client.frames.find(isStatus);
    assert.equal(status?.name, 'INVALID_ARGUMENT', JSON.stringify(client.frames));
    assert.equal(noteMessages(client.frames).length, 0);
    return { message: status?.message ?? '', code };
  }

  const cases: [string, string, RegExp][] = [
    ['a short session id', 'note-session=short&note-sequence=0', /note-session must be 8 to 64 characters/],
    ['a session without a sequence', 'note-session=producer-cccc', /note-session needs note-sequence/],
    ['a sequence twice', 'note-session=producer-cccc&note-sequence=1&note-sequence=2', /given 2 times/],
    ['a negative sequence', 'note-session=producer-cccc&note-sequence=-1', /note-sequence must be a decimal/],
    ['a non-ASCII session id', 'note-session=producer-%C3%A9%C3%A9&note-sequence=0', /note-session must be/],
    ['a control character', 'note-session=producer-cc%00c&note-sequence=0', /note-session must be/],
  ];
  for (const [name, query, message] of cases) {
    test(`v1: ${name}`, BOUNDED, async () => {
      const refusal = await v1Refusal(query);
      assert.match(refusal.message, message);
      assert.equal(refusal.code, 4003);
    });
  }

  test('v1: the same checks for a session sent as request headers', BOUNDED, async () => {
    const client = connect(gateway.wsUrl, { headers: { 'note-session': 'short', 'note-sequence': '0' } });
    await client.opened;
    await client.closed;
    const status = client.frames.find(isStatus);
    assert.equal(status?.name, 'INVALID_ARGUMENT');
    assert.match(status?.message ?? '', /8 to 64 characters/);
  });

  test(
    'v2: a bad open.metadata session ends that stream INVALID_ARGUMENT (the core says why)',
    BOUNDED,
    async () => {
      const client = connectV2(v2Url(gateway.port));
      await client.opened;
      client.send({
        type: 'open',
        id: 'bad',
        method: CHAT,
        metadata: { 'note-session': 'producer-dddd', 'note-sequence': '01' },
      });
      client.send({ type: 'message', id: 'bad', message: at(4)('never stored') });
      const status = await client.status('bad');
      assert.equal(status.name, 'INVALID_ARGUMENT');
      assert.match(status.message, /no leading zero/);
      client.ws.close();
    },
  );
});

describe('a refused note ends a numbered stream (later notes would be numbered wrongly)', () => {
  test(
    'v1: the first refused note frame ends the stream; without a session it does not',
    BOUNDED,
    async () => {
      const numbered = connect(`${gateway.wsUrl}?note-session=producer-eeee&note-sequence=0`);
      await numbered.opened;
      numbered.send({ location: { latitude: 'north' }, message: 'bad' });
      const { code } = await numbered.closed;
      assert.ok(isError(numbered.frames[0]), JSON.stringify(numbered.frames));
      const status = numbered.frames.find(isStatus);
      assert.equal(status?.name, 'INVALID_ARGUMENT');
      assert.match(status?.message ?? '', /a refused note ends a note-session stream/);
      assert.equal(code, 4003);

      const plain = connect(gateway.wsUrl);
      await plain.opened;
      plain.send({ location: { latitude: 'north' }, message: 'bad' });
      plain.send(at(5)('fine'));
      await plain.waitForFrames(2);
      assert.ok(isError(plain.frames[0]));
      assert.deepEqual(noteMessages(plain.frames), ['fine']);
      plain.ws.close();
    },
  );

  test('v2: the first refused message ends the stream', BOUNDED, async () => {
    const client = connectV2(v2Url(gateway.port));
    await client.opened;
    client.send({
      type: 'open',
      id: 's',
      method: CHAT,
      metadata: { 'note-session': 'producer-ffff', 'note-sequence': '0' },
    });
    client.send({ type: 'message', id: 's', message: { location: { latitude: 'north' } } });
    const status = await client.status('s');
    assert.equal(status.name, 'INVALID_ARGUMENT');
    assert.match(status.message, /a refused note ends a note-session stream/);
    await until(() => client.of('s').some((frame) => frame.type === 'error'));
    client.ws.close();
  });
});
