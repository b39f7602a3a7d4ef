/**
 * `node dist/bench/connection-micro.js DIST_A DIST_B [rounds]`: the v1 connection machine of two
 * builds, alone (fake socket and call, no I/O), alternating in one process: CPU µs per note in
 * (frame text → request bytes) and out (response bytes → frame text), through the connection and
 * its stream. What a redesign of the machines costs, without the 2-core host's scheduling noise of
 * the end-to-end A/B (ab.ts). DIST_x is a dist/ folder (with gateway/ and protocol/).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ROUTECHAT_V1_METHOD } from '../gateway/methods/routechat-v1.js';
import type { createV1Connection } from '../gateway/session/v1-connection.js';
import type { CallHandlers } from '../gateway/upstream/calls.js';
import type { DEFAULT_FRAME_LIMITS } from '../protocol/common/index.js';

interface Build {
  readonly createV1Connection: typeof createV1Connection;
  readonly method: typeof ROUTECHAT_V1_METHOD;
  readonly frameLimits: typeof DEFAULT_FRAME_LIMITS;
}

const load = async (dir: string): Promise<Build> => {
  const at = (path: string) => pathToFileURL(resolve(dir, path)).href;
  const connection = (await import(at('gateway/session/v1-connection.js'))) as Pick<
    Build,
    'createV1Connection'
  >;
  const methods = (await import(at('gateway/methods/routechat-v1.js'))) as {
    ROUTECHAT_V1_METHOD: Build['method'];
  };
  const protocol = (await import(at('protocol/index.js'))) as { DEFAULT_FRAME_LIMITS: Build['frameLimits'] };
  return {
    createV1Connection: connection.createV1Connection,
    method: methods.ROUTECHAT_V1_METHOD,
    frameLimits: protocol.DEFAULT_FRAME_LIMITS,
  };
};

/** CPU µs per note (one in, one out) over `notes` notes on one connection. */
function run(build: Build, notes: number): number {
  const socket = { bufferedAmount: 0, send() {}, close() {}, pause() {}, resume() {} };
  let handlers: CallHandlers | undefined;
  const upstream = {
    open(_method: unknown, _metadata: unknown, _options: unknown, given: CallHandlers) {
      handlers = given;
      return { write: () => true, end() {}, cancel() {}, pause() {}, resume() {} };
    },
  };
  const connection = build.createV1Connection(
    socket,
    { method: build.method, upstream, metadata: {} },
    {
      frame: build.frameLimits,
      maxRejectedFrames: 20,
      socketHighWaterMark: 1 << 20,
      rateLimit: 0,
      rateBurst: 400,
      floodGraceMs: 10_000,
    },
    { onFinished() {}, onRelayLatency() {}, onNoteForwarded() {} },
  );
  // A note as the bench sends it (64-byte message), and the core's reply as wire bytes.
  const note = { location: { latitude: 412345678, longitude: -741234567 }, message: 'x'.repeat(64) };
  const text = JSON.stringify(note);
  const parsed = build.method.codec.parseRequest(note);
  if (!parsed.ok || !handlers) throw new Error('the note does not encode');
  const call = handlers;
  const before = process.cpuUsage();
  for (let i = 0; i < notes; i += 1) {
    connection.onClientText(text);
    call.onMessage(parsed.bytes);
  }
  const used = process.cpuUsage(before);
  connection.onClientGone();
  return (used.user + used.system) / notes;
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return ((sorted[(sorted.length - 1) >> 1] as number) + (sorted[sorted.length >> 1] as number)) / 2;
};

const [dirA, dirB, rounds = '8'] = process.argv.slice(2);
if (!dirA || !dirB) throw new Error('usage: connection-micro.js DIST_A DIST_B [rounds]');
const builds = { A: await load(dirA), B: await load(dirB) };
for (const build of Object.values(builds)) run(build, 50_000);
const perNote: Record<'A' | 'B', number[]> = { A: [], B: [] };
for (let round = 0; round < Number(rounds); round += 1)
  for (const name of round % 2 ? (['B', 'A'] as const) : (['A', 'B'] as const))
    perNote[name].push(run(builds[name], 300_000));
const round3 = (x: number) => Math.round(x * 1000) / 1000;
process.stdout.write(
  `${JSON.stringify({
    usPerNote: { A: perNote.A.map(round3), B: perNote.B.map(round3) },
    median: { A: round3(median(perNote.A)), B: round3(median(perNote.B)) },
    ratioBtoA: round3(median(perNote.B) / median(perNote.A)),
  })}\n`,
);
