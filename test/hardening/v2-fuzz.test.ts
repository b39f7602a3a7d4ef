/**
 * A bounded fuzz of v2 on the wire (fast-check): random and mutated frames, ids, metadata and
 * interleavings on one socket of a real gateway process in front of a real core. After every run:
 * the process is alive, the frames it sent are valid and each stream's frames end with its one
 * status, no stream or call is left behind (the gateway's own gauges), the witnesses' streams on
 * other sockets go on, and memory stays bounded. FUZZ_SEED=n replays a run; FUZZ_RUNS and
 * FUZZ_SECONDS bound it (defaults: 150 runs, 25 s).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { toWellFormedString } from '../../protocol/index.js';
import { type ServerFrameV2, serverFrameV2Schema, streamIdSchema } from '../../protocol/v2/index.js';
import { type RunningCore, startCore } from '../helpers/core.js';
import { isAlive, rssBytes, type SpawnedGateway, sleep, spawnGateway } from '../helpers/hardening.js';
import { sample } from '../helpers/prometheus.js';
import { connectV2 } from '../helpers/v2.js';
import { witnesses } from '../helpers/witnesses.js';

const MiB = 1024 * 1024;
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const SECONDS = Number(process.env.FUZZ_SECONDS ?? 25);
const SEED = process.env.FUZZ_SEED === undefined ? Date.now() % 2 ** 31 : Number(process.env.FUZZ_SEED);

const METHODS = [
  'routeguide.RouteGuide/GetFeature',
  'routeguide.RouteGuide/ListFeatures',
  'routeguide.RouteGuide/RecordRoute',
  'routeguide.RouteGuide/RouteChat',
  'routeguide.NoteFeed/Watch',
  'routeguide.RouteGuide/Nope',
  '/routeguide.RouteGuide/GetFeature',
  '',
];
/** A few ids, so frames keep meeting open, finished and reused streams. */
const ids = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('a', 'b', 'c', 'd') },
  { weight: 1, arbitrary: fc.string({ minLength: 0, maxLength: 70, unit: 'binary' }) },
  { weight: 1, arbitrary: fc.constantFrom('\ud800', 'a\u0000', '😀'.repeat(64), ' ', 'x'.repeat(65)) },
);
const metadataKeys = fc.constantFrom(
  'x-ok',
  'trace-bin',
  'http2-settings',
  'connection',
  'te',
  'authorization',
  'x-forwarded-for',
  'grpc-timeout',
  ':path',
  'Upper',
  'bad key',
  'host',
);
const metadataValues = fc.oneof(fc.constantFrom('A', 'AAA=', 'trailers', 'v'), fc.string({ maxLength: 20 }));
const metadata = fc.dictionary(metadataKeys, metadataValues, { maxKeys: 4 });
const point = fc.record({ latitude: fc.integer(), longitude: fc.integer() }, { requiredKeys: [] });
const requestMessage = fc.oneof(
  point,
  fc.record({ lo: point, hi: point }),
  fc.record({ location: point, message: fc.string({ maxLength: 30 }) }, { requiredKeys: [] }),
  fc.jsonValue({ maxDepth: 3 }),
);

const openFrame = fc.record(
  {
    type: fc.constant('open'),
    id: ids,
    method: fc.constantFrom(...METHODS),
    metadata,
    timeoutMs: fc.oneof(fc.integer({ min: 1, max: 3000 }), fc.constantFrom(0, -1, 1.5, 2 ** 31)),
    responseHeaders: fc.constantFrom(true, false, 'yes', 1, null),
  },
  { requiredKeys: ['type', 'id', 'method'] },
);
const streamFrame = fc.oneof(
  fc.record({ type: fc.constant('message'), id: ids, message: requestMessage }),
  fc.record({ type: fc.constantFrom('end', 'cancel'), id: ids }),
);
const anyFrame = fc.oneof({ weight: 3, arbitrary: openFrame }, { weight: 6, arbitrary: streamFrame });

/** One thing sent on the socket: a frame (maybe mutated), other text, binary, or a pause. */
type Action =
  | { kind: 'text'; text: string }
  | { kind: 'binary'; bytes: Uint8Array }
  | { kind: 'pause'; ms: number };

const mutate = (text: string, at: number, what: number, char: string): string => {
  const i = at % (text.length + 1);
  switch (what) {
    case 0:
      return text.slice(0, i) + text.slice(i + 1);
    case 1:
      return text.slice(0, i) + char + text.slice(i);
    case 2:
      return text.slice(0, i);
    default:
      return text.replace(/"(open|message|end|cancel)"/, `"${char}"`);
  }
};

const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 10,
    arbitrary: anyFrame.map((frame) => ({ kind: 'text' as const, text: JSON.stringify(frame) })),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(anyFrame, fc.nat(), fc.nat(3), fc.string({ minLength: 1, maxLength: 1, unit: 'binary' }))
      .map(([frame, at, what, char]) => ({
        kind: 'text' as const,
        text: mutate(JSON.stringify(frame), at, what, char),
      })),
  },
  { weight: 1, arbitrary: fc.json({ maxDepth: 3 }).map((text) => ({ kind: 'text' as const, text })) },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ maxLength: 16 }).map((bytes) => ({ kind: 'binary' as const, bytes })),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 30 }).map((ms) => ({ kind: 'pause' as const, ms })) },
);

/** Every `open` in what was sent, by id (mutated frames included when they still parse). */
function opensById(actions: readonly Action[]): Map<string, number> {
  const opens = new Map<string, number>();
  for (const a of actions) {
    if (a.kind !== 'text') continue;
    try {
      // What the wire carries: UTF-8 has no lone surrogates (a mutation may cut a pair), ws sends U+FFFD.
      const frame = JSON.parse(toWellFormedString(a.text)) as { type?: unknown; id?: unknown };
      if (frame.type === 'open' && typeof frame.id === 'string')
        opens.set(frame.id, (opens.get(frame.id) ?? 0) + 1);
    } catch {}
  }
  return opens;
}

/** Each id's frames end with a status, and it has no more statuses than opens were sent for it. */
function checkStreams(frames: readonly ServerFrameV2[], opens: ReadonlyMap<string, number>): void {
  const byId = new Map<string, ServerFrameV2[]>();
  for (const frame of frames) {
    assert.ok(serverFrameV2Schema.safeParse(frame).success, `an invalid frame: ${JSON.stringify(frame)}`);
    if (frame.type !== 'error' || frame.id !== undefined) {
      const id = (frame as { id: string }).id;
      byId.set(id, [...(byId.get(id) ?? []), frame]);
    }
  }
  for (const [id, list] of byId) {
    const statuses = list.filter((f) => f.type === 'status').length;
    assert.ok(
      statuses <= (opens.get(id) ?? 0),
      `${JSON.stringify(id)}: ${statuses} statuses for ${opens.get(id) ?? 0} opens`,
    );
    assert.equal(
      list.at(-1)?.type,
      'status',
      `${JSON.stringify(id)} did not end with its status: ${JSON.stringify(list.slice(-3))}`,
    );
  }
}

describe('v2 fuzz', () => {
  let core: RunningCore;
  let gateway: SpawnedGateway;
  let metricsUrl: string;
  before(async () => {
    core = await startCore();
    gateway = await spawnGateway(core.address, ['--metrics-listen', '127.0.0.1:0']);
    const listening = gateway.lines.find((line) => line.includes('"gateway listening"')) ?? '{}';
    metricsUrl = String((JSON.parse(listening) as { metrics?: string }).metrics);
  });
  after(async () => {
    await gateway.stop();
    await core.stop();
  });

  const gauges = async () => {
    const text = await (await fetch(metricsUrl)).text();
    return {
      streams: sample(text, 'routeguide_gateway_v2_open_streams'),
      calls: sample(text, 'routeguide_gateway_upstream_active_calls'),
    };
  };

  test(`random and mutated frames on one socket cost that socket only (seed ${SEED})`, {
    timeout: (SECONDS + 60) * 1000,
  }, async (t) => {
    const others = await witnesses(gateway);
    // The witnesses' own: the v2 Watch and RouteChat streams; their calls plus v1's RouteChat.
    const baseline = await gauges();
    const rssBefore = rssBytes(gateway.pid);
    let runs = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 40 }), async (actions) => {
          runs += 1;
          const client = connectV2(`ws://${gateway.address}/v2`);
          await client.opened;
          for (const a of actions) {
            if (a.kind === 'pause') await sleep(a.ms);
            else if (client.ws.readyState === client.ws.OPEN)
              client.ws.send(a.kind === 'text' ? a.text : a.bytes);
          }
          const opens = opensById(actions);
          // Cancel whatever may be open (any id an open carried, not only a–d: a stream with a fuzzed id
          // and no deadline stays open), then a unary call whose status says everything before it was handled.
          if (client.ws.readyState === client.ws.OPEN) {
            for (const id of opens.keys())
              if (streamIdSchema.safeParse(id).success) client.send({ type: 'cancel', id });
            client.send({ type: 'open', id: 'sync', method: 'routeguide.RouteGuide/GetFeature' });
            client.send({ type: 'message', id: 'sync', message: {} });
            await Promise.race([client.status('sync', 10_000), client.closed]);
          }
          client.ws.close();
          await client.closed;
          opens.set('sync', 1);
          checkStreams(client.frames, opens);
          let now = await gauges();
          for (
            let i = 0;
            i < 100 && (now.streams !== baseline.streams || now.calls !== baseline.calls);
            i += 1
          ) {
            await sleep(50);
            now = await gauges();
          }
          assert.deepEqual(now, baseline, 'every stream and call of the fuzzed socket ended');
          assert.ok(isAlive(gateway), 'the gateway process is alive');
        }),
        {
          numRuns: RUNS,
          seed: SEED,
          interruptAfterTimeLimit: SECONDS * 1000,
          endOnFailure: true,
          includeErrorInReport: true,
        },
      );
      t.diagnostic(`${runs} runs, seed ${SEED}`);
      assert.ok(runs >= 10, `only ${runs} runs`);
      const grown = rssBytes(gateway.pid) - rssBefore;
      assert.ok(grown < 64 * MiB, `gateway RSS grew ${(grown / MiB).toFixed(1)} MiB`);
      await others.stillServed();
    } finally {
      others.close();
    }
  });
});
