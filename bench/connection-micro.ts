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
import type { DEFAULT_FRAME_LIMITS } from '../protocol/common/index.js';
import { microSocket, microV1Limits, v1RelayCpuPerNote } from './micro.js';
import { median, round } from './stats.js';

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

/** CPU µs per note (one in, one out) over `notes` notes on one connection of `build`. */
const run = (build: Build, notes: number): number =>
  v1RelayCpuPerNote(
    (upstream) =>
      build.createV1Connection(
        microSocket(),
        { method: build.method, upstream, metadata: {} },
        microV1Limits(build.frameLimits),
        { onFinished() {}, onRelayLatency() {}, onNoteForwarded() {} },
      ),
    (json) => build.method.codec.parseRequest(json),
    notes,
  );

const [dirA, dirB, rounds = '8'] = process.argv.slice(2);
if (!dirA || !dirB) throw new Error('usage: connection-micro.js DIST_A DIST_B [rounds]');
const builds = { A: await load(dirA), B: await load(dirB) };
for (const build of Object.values(builds)) run(build, 50_000);
const perNote: Record<'A' | 'B', number[]> = { A: [], B: [] };
for (let i = 0; i < Number(rounds); i += 1)
  for (const name of i % 2 ? (['B', 'A'] as const) : (['A', 'B'] as const))
    perNote[name].push(run(builds[name], 300_000));
process.stdout.write(
  `${JSON.stringify({
    usPerNote: { A: perNote.A.map((x) => round(x)), B: perNote.B.map((x) => round(x)) },
    median: { A: round(median(perNote.A)), B: round(median(perNote.B)) },
    ratioBtoA: round(median(perNote.B) / median(perNote.A)),
  })}\n`,
);
