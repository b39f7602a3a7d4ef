/**
 * What every RouteGuide client (the official grpc-go example, our grpcio client…) must get from
 * our core server, and how a client that prints one JSON object per answer is run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { SEED_REPLY_MESSAGES } from '../../clients/seed-notes.js';
import { REPO_ROOT } from '../helpers/core.js';

const execFileAsync = promisify(execFile);

export interface ClientLine {
  rpc: 'GetFeature' | 'ListFeatures' | 'RecordRoute' | 'RouteChat';
  name?: string;
  message?: string;
  latitude?: number | null;
  longitude?: number | null;
  /** Points the client sent to RecordRoute, when it reports them (else the official 10). */
  sent_points?: number;
  point_count?: number;
  feature_count?: number;
  distance?: number;
  elapsed_time?: number;
}

/**
 * A missing toolchain skips the test loudly on a developer's machine and fails it under CI=true.
 * Returns true when the test should go on.
 */
export function requireToolchain(t: TestContext, language: string, unavailable: string | null): boolean {
  if (unavailable === null) return true;
  if (process.env.CI === 'true') assert.fail(`${language} gRPC is required in CI: ${unavailable}`);
  const warning = `SKIPPING the ${language} gRPC interop test: ${unavailable}`;
  console.warn(warning);
  t.diagnostic(warning);
  t.skip(warning);
  return false;
}

/** Runs a client to completion and parses its JSON lines; a failure shows its output. */
export async function runClient(label: string, command: string, args: readonly string[], timeoutMs: number) {
  try {
    const { stdout } = await execFileAsync(command, [...args], {
      cwd: REPO_ROOT,
      timeout: timeoutMs,
      maxBuffer: 10 * 1024 * 1024,
    });
    return stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as ClientLine);
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    return assert.fail(
      `${label} failed: ${(error as Error).message}\nstdout:\n${stdout}\nstderr:\n${stderr}`,
    );
  }
}

/** The canonical answers of the walkthrough, from a fresh core server with the bundled features. */
export function assertCanonicalAnswers(lines: readonly ClientLine[]): void {
  const of = (rpc: ClientLine['rpc']) => lines.filter((line) => line.rpc === rpc);
  assert.deepEqual(
    of('GetFeature').map((f) => [f.name, f.latitude, f.longitude]),
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
  const sent = summary.sent_points ?? 10;
  assert.equal(summary.point_count, sent);
  assert.ok(
    summary.feature_count !== undefined && summary.feature_count >= 0 && summary.feature_count <= sent,
    `feature_count ${summary.feature_count}`,
  );
  assert.ok(summary.distance !== undefined && summary.distance >= 0, `distance ${summary.distance}`);
  assert.ok(summary.elapsed_time !== undefined && summary.elapsed_time >= 0);

  assert.deepEqual(
    of('RouteChat').map((note) => note.message),
    [...SEED_REPLY_MESSAGES],
  );
}
