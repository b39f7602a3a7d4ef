/**
 * Interop: the official gRPC Python RouteGuide example client (adapted in
 * route_guide_client.py) against our core server as a real process.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { SEED_REPLY_MESSAGES } from '../../clients/seed-notes.js';
import { REPO_ROOT, spawnCore } from '../helpers/core.js';

const execFileAsync = promisify(execFile);

/** Debian's python3-grpcio / python3-grpc-tools are installed for this interpreter, not for pyenv's. */
const PYTHON = '/usr/bin/python3';
const CLIENT = join(REPO_ROOT, 'test/interop/route_guide_client.py');

/** Why the Python client cannot run here, or null when `import grpc, grpc_tools` works. */
function pythonGrpcUnavailable(): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import grpc, grpc_tools'], { encoding: 'utf8', timeout: 30_000 });
  if (probe.error) return `${PYTHON} cannot be run: ${probe.error.message}`;
  if (probe.status !== 0) {
    return `${PYTHON} cannot import grpc, grpc_tools (install python3-grpcio and python3-grpc-tools): ${probe.stderr.trim().split('\n').at(-1)}`;
  }
  return null;
}

interface ClientLine {
  rpc: 'GetFeature' | 'ListFeatures' | 'RecordRoute' | 'RouteChat';
  name?: string;
  message?: string;
  latitude?: number | null;
  longitude?: number | null;
  point_count?: number;
  feature_count?: number;
  distance?: number;
  elapsed_time?: number;
}

describe('official gRPC Python RouteGuide client (interop)', () => {
  test('the official Python RouteGuide client gets the canonical answers from our core server', async (t) => {
    const unavailable = pythonGrpcUnavailable();
    if (unavailable !== null) {
      if (process.env.CI === 'true') {
        assert.fail(`Python gRPC is required in CI: ${unavailable}`);
      }
      const warning = `SKIPPING the Python gRPC interop test: ${unavailable}`;
      console.warn(warning);
      t.diagnostic(warning);
      t.skip(warning);
      return;
    }

    const core = await spawnCore();
    try {
      let stdout: string;
      try {
        ({ stdout } = await execFileAsync(PYTHON, [CLIENT, core.address], {
          cwd: REPO_ROOT,
          timeout: 60_000,
          maxBuffer: 10 * 1024 * 1024,
        }));
      } catch (error) {
        const { stdout: out = '', stderr = '' } = error as { stdout?: string; stderr?: string };
        assert.fail(`Python client failed: ${(error as Error).message}\nstdout:\n${out}\nstderr:\n${stderr}`);
      }
      const lines = stdout
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as ClientLine);
      const of = (rpc: ClientLine['rpc']) => lines.filter((line) => line.rpc === rpc);

      const features = of('GetFeature');
      assert.deepEqual(
        features.map((f) => [f.name, f.latitude, f.longitude]),
        [
          ['Berkshire Valley Management Area Trail, Jefferson, NJ, USA', 409146138, -746188906],
          ['', 0, 0],
        ],
      );

      const listed = of('ListFeatures');
      assert.equal(listed.length, 100);
      for (const f of listed) {
        // Everything streamed lies inside the requested rectangle (40, -75)..(42, -73).
        assert.ok(f.latitude! >= 400000000 && f.latitude! <= 420000000, JSON.stringify(f));
        assert.ok(f.longitude! >= -750000000 && f.longitude! <= -730000000, JSON.stringify(f));
      }

      const summaries = of('RecordRoute');
      assert.equal(summaries.length, 1);
      const summary = summaries[0]!;
      assert.equal(summary.point_count, 10);
      assert.ok(
        summary.feature_count !== undefined && summary.feature_count >= 0 && summary.feature_count <= 10,
        `feature_count ${summary.feature_count}`,
      );
      assert.ok(summary.distance !== undefined && summary.distance > 0, `distance ${summary.distance}`);
      assert.ok(summary.elapsed_time !== undefined && summary.elapsed_time >= 0);

      assert.deepEqual(
        of('RouteChat').map((note) => note.message),
        [...SEED_REPLY_MESSAGES],
      );
    } finally {
      await core.stop();
    }
  });
});
