/**
 * A core that is stopped (SIGTERM) drains: clients learn "this replica is going away" (UNAVAILABLE,
 * close 4014 through the gateway) at once, not "you cancelled" (CANCELLED, close 4001) after the
 * grace period. Real core processes, native gRPC clients, a real gateway and WebSocket client.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import type { StoredNote } from '../../core-server/notes/index.js';
import type { CoreServerOptions } from '../../core-server/server.js';
import { type RouteNote, type RouteNote__Output, routeguide } from '../../proto/index.js';
import { type StatusFrame, SUBPROTOCOL } from '../../protocol/index.js';
import { spawnCore, startCore } from '../helpers/core.js';
import { connect, note, startGateway } from '../helpers/gateway.js';
import { sample } from '../helpers/prometheus.js';

/** Far above how long any of these drains may take: a stream that waits it out fails the test. */
const GRACE = '60s';
const PROMPT_MS = 15_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function notesStored(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  return sample(text, 'routeguide_core_notes_stored_total') ?? 0;
}

const setImmediatePromise = () => new Promise<void>((resolve) => setImmediate(resolve));

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Distinct locations: each note's answer is the note itself. */
const wireNote = (i: number, message: string): RouteNote => ({
  location: { latitude: 1 + (i % 80_000), longitude: 7 + Math.floor(i / 80_000) },
  message,
});

/** A note store whose appends wait until the test opens the gate (answers each note with itself). */
function gatedStore() {
  let open = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const appends: { message: string }[] = [];
  const append = async (note: StoredNote) => {
    appends.push(note);
    await gate;
    return [note];
  };
  const notes: CoreServerOptions['notes'] = {
    append,
    appendOnce: async (note) => ({ notes: await append(note), duplicate: false }),
    stats: () => ({ notes: appends.length, locations: appends.length, bytes: 0 }),
    watchAvailability: () => () => {},
    close: async () => {},
  };
  return { notes, appends, open: () => open() };
}

/** Counts the messages the core has taken in, before any handler runs. */
function receivedCounter() {
  const counter = {
    count: 0,
    interceptor: ((_descriptor, call) =>
      new grpc.ServerInterceptingCall(call, {
        start: (next) =>
          next({
            onReceiveMessage: (message, nextMessage) => {
              counter.count += 1;
              nextMessage(message);
            },
          }),
      })) as grpc.ServerInterceptor,
  };
  return counter;
}

function openChat(client: InstanceType<typeof routeguide.RouteGuide>) {
  const call = client.RouteChat();
  const received: string[] = [];
  call.on('data', (n: RouteNote__Output) => received.push(n.message));
  const ended = new Promise<grpc.ServiceError | 'ok'>((resolve) => {
    call.on('error', resolve);
    call.on('end', () => resolve('ok'));
  });
  return { call, received, ended };
}

const healthPackage = grpc.loadPackageDefinition(
  protoLoader.loadSync(healthProtoPath, { enums: String }),
) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };

type HealthClient = grpc.Client & {
  Watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

describe('core drain on SIGTERM', () => {
  test('the drain answers every note a RouteChat has received, then ends it with UNAVAILABLE "server shutting down"', async () => {
    const store = gatedStore();
    const counter = receivedCounter();
    const core = await startCore({ notes: store.notes, interceptors: [counter.interceptor] });
    const client = new routeguide.RouteGuide(core.address, grpc.credentials.createInsecure());
    try {
      const chat = openChat(client);
      for (let i = 0; i < 5; i += 1) chat.call.write(wireNote(i, `received ${i}`));
      // All five are in the core (the first one's store call is held open), none is answered yet.
      await until(() => counter.count === 5 && store.appends.length === 1, 'five notes received');
      const stopping = core.stop(60_000);
      await setImmediatePromise();
      chat.call.write(wireNote(5, 'after the drain began'));
      store.open();
      const outcome = await chat.ended;
      assert.notEqual(outcome, 'ok');
      const error = outcome as grpc.ServiceError;
      assert.equal(error.code, grpc.status.UNAVAILABLE, `${grpc.status[error.code]}: ${error.details}`);
      assert.equal(error.details, 'server shutting down');
      assert.deepEqual(error.metadata.get('note-outcome'), ['not-stored'], 'unanswered notes: not stored');
      assert.deepEqual(
        chat.received,
        [0, 1, 2, 3, 4].map((i) => `received ${i}`),
      );
      assert.deepEqual(
        store.appends.map((n) => n.message),
        chat.received,
        'the note sent after the drain began was not stored',
      );
      assert.equal(await stopping, undefined);
    } finally {
      client.close();
      store.open();
      await core.stop(0);
    }
  });

  test('a RouteChat that had half-closed when the drain began ends with OK after its answers', async () => {
    const store = gatedStore();
    const counter = receivedCounter();
    const core = await startCore({ notes: store.notes, interceptors: [counter.interceptor] });
    const client = new routeguide.RouteGuide(core.address, grpc.credentials.createInsecure());
    try {
      const chat = openChat(client);
      for (let i = 0; i < 3; i += 1) chat.call.write(wireNote(i, `half ${i}`));
      chat.call.end();
      await until(() => counter.count === 3 && store.appends.length === 1, 'three notes received');
      const stopping = core.stop(60_000);
      await setImmediatePromise();
      store.open();
      assert.equal(await chat.ended, 'ok');
      assert.deepEqual(chat.received, ['half 0', 'half 1', 'half 2']);
      await stopping;
    } finally {
      client.close();
      store.open();
      await core.stop(0);
    }
  });

  test('SIGTERM on a core process ends a busy RouteChat with UNAVAILABLE well before the grace period, every stored note answered', async (t) => {
    const core = await spawnCore(['--shutdown-grace', GRACE]);
    const client = new routeguide.RouteGuide(core.address, grpc.credentials.createInsecure());
    try {
      const chat = openChat(client);
      // The client keeps sending (and reading) while the core is stopped under it.
      let sent = 0;
      let sending = true;
      const sender = (async () => {
        while (sending && sent < 5000) {
          if (!chat.call.write(wireNote(sent, `busy ${sent}`))) await once(chat.call, 'drain');
          sent += 1;
          if (sent % 20 === 0) await setImmediatePromise();
        }
      })();
      await until(() => chat.received.length >= 50, 'the first answers', PROMPT_MS);
      const storedBeforeSigterm = await notesStored(core.metricsUrl);
      const started = Date.now();
      core.child.kill('SIGTERM');
      const outcome = await chat.ended;
      const elapsed = Date.now() - started;
      sending = false;
      await sender.catch(() => {});
      t.diagnostic(
        `sent ${sent}; stored when SIGTERM was sent ${storedBeforeSigterm}; answered ${chat.received.length}; ended ${elapsed} ms after SIGTERM`,
      );
      assert.notEqual(outcome, 'ok', 'the stream does not end with OK');
      const error = outcome as grpc.ServiceError;
      assert.equal(error.code, grpc.status.UNAVAILABLE, `${grpc.status[error.code]}: ${error.details}`);
      assert.equal(error.details, 'server shutting down');
      assert.ok(elapsed < PROMPT_MS, `ended ${elapsed} ms after SIGTERM (grace ${GRACE})`);
      assert.ok(
        chat.received.length >= storedBeforeSigterm,
        `every note stored before SIGTERM was answered: ${chat.received.length} answers, ${storedBeforeSigterm} stored`,
      );
      assert.deepEqual(
        chat.received,
        chat.received.map((_, i) => `busy ${i}`),
        'answers are an in-order prefix of the notes',
      );
      assert.equal((await core.exited).code, 0);
      assert.ok(Date.now() - started < PROMPT_MS, 'the process exits without waiting out the grace period');
    } finally {
      client.close();
      await core.stop('SIGKILL');
    }
  });

  test('while draining, health reports NOT_SERVING for "" and routeguide.RouteGuide and new calls are refused', async () => {
    const core = await spawnCore(['--shutdown-grace', GRACE]);
    const health = new healthPackage.grpc.health.v1.Health(
      core.address,
      grpc.credentials.createInsecure(),
    ) as unknown as HealthClient;
    const watches = ['', 'routeguide.RouteGuide'].map((service) => {
      const watch = health.Watch({ service });
      const statuses: string[] = [];
      watch.on('data', (reply: { status: string }) => statuses.push(reply.status));
      watch.on('error', () => {});
      return { watch, statuses };
    });
    try {
      await until(() => watches.every((w) => w.statuses.at(-1) === 'SERVING'), 'SERVING', PROMPT_MS);
      core.child.kill('SIGTERM');
      await until(() => watches.every((w) => w.statuses.at(-1) === 'NOT_SERVING'), 'NOT_SERVING', PROMPT_MS);
      // The open Watch streams keep the process alive; a new call finds the door shut (GOAWAY, listener closed).
      const fresh = new routeguide.RouteGuide(core.address, grpc.credentials.createInsecure());
      const refused = await new Promise<grpc.ServiceError | null>((resolve) =>
        fresh.GetFeature({ latitude: 1, longitude: 1 }, { deadline: Date.now() + 5000 }, (error) =>
          resolve(error),
        ),
      );
      fresh.close();
      assert.ok(refused, 'a call started after SIGTERM is not served');
      assert.equal(refused.code, grpc.status.UNAVAILABLE, `${grpc.status[refused.code]}: ${refused.details}`);
      for (const w of watches) w.watch.cancel();
      assert.equal((await core.exited).code, 0);
    } finally {
      health.close();
      await core.stop('SIGKILL');
    }
  });

  test('through a real gateway, a core SIGTERM reaches the WebSocket client as UNAVAILABLE and close 4014, promptly', async () => {
    const core = await spawnCore(['--shutdown-grace', GRACE]);
    const gateway = await startGateway(core.address);
    try {
      const client = connect(gateway.wsUrl, { protocols: [SUBPROTOCOL] });
      await client.opened;
      client.send(note(3, 3, 'before the restart'));
      await client.waitForFrames(1, PROMPT_MS);
      const started = Date.now();
      core.child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const closed = await Promise.race([
        client.closed,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no close within ${PROMPT_MS} ms of SIGTERM (grace ${GRACE})`)),
            PROMPT_MS,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      const status = client.frames.at(-1) as StatusFrame;
      assert.equal(status.type, 'status');
      assert.equal(status.name, 'UNAVAILABLE');
      assert.equal(status.message, 'server shutting down');
      assert.equal(status.metadata['note-outcome'], 'not-stored', 'the trailer reaches the WebSocket client');
      assert.deepEqual(closed, { code: 4014, reason: 'UNAVAILABLE' });
      assert.ok(Date.now() - started < PROMPT_MS);
      assert.equal((await core.exited).code, 0);
    } finally {
      await gateway.app.close();
      await core.stop('SIGKILL');
    }
  });
});
