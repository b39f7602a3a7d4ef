/**
 * Interop: the official grpc-go RouteGuide example client, unmodified (built from Debian's
 * golang-google-grpc-dev by official-go.ts), against our core server as a real process. The client
 * logs its answers in its own words; they are read back into the canonical answers.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { spawnCore } from '../helpers/core.js';
import { assertCanonicalAnswers, type ClientLine } from './official-client.js';
import { buildOfficialGo, requireOfficialGo } from './official-go.js';

const execFileAsync = promisify(execFile);

/** Go's `log` prefix: `2006/01/02 15:04:05 `. */
const LOG_PREFIX = /^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} /;

/** A proto3 text-format field (protobuf-go spaces its text format at random: match loosely). */
const field = (text: string, name: string): number => {
  const match = new RegExp(`\\b${name}:\\s*(-?\\d+)`).exec(text);
  return match ? Number(match[1]) : 0;
};

/** The official client's log, line by line, as the canonical answers. */
function parseOfficialClientLog(log: string): ClientLine[] {
  const lines: ClientLine[] = [];
  let expectFeature = false;
  let sentPoints: number | undefined;
  for (const raw of log.split('\n')) {
    const line = raw.replace(LOG_PREFIX, '');
    const listed = /^Feature: name: ("(?:[^"\\]|\\.)*"), point:\((-?\d+), (-?\d+)\)$/.exec(line);
    const traversing = /^Traversing (\d+) points\.$/.exec(line);
    const chat = /^Got message (.*) at point\((-?\d+), (-?\d+)\)$/.exec(line);
    if (line.startsWith('Getting feature for point')) {
      expectFeature = true;
    } else if (expectFeature) {
      expectFeature = false;
      const name = /\bname:\s*("(?:[^"\\]|\\.)*")/.exec(line)?.[1];
      lines.push({
        rpc: 'GetFeature',
        name: name ? (JSON.parse(name) as string) : '',
        latitude: field(line, 'latitude'),
        longitude: field(line, 'longitude'),
      });
    } else if (listed) {
      lines.push({
        rpc: 'ListFeatures',
        name: JSON.parse(listed[1]!) as string,
        latitude: Number(listed[2]),
        longitude: Number(listed[3]),
      });
    } else if (traversing) {
      sentPoints = Number(traversing[1]);
    } else if (line.startsWith('Route summary:')) {
      lines.push({
        rpc: 'RecordRoute',
        ...(sentPoints === undefined ? {} : { sent_points: sentPoints }),
        point_count: field(line, 'point_count'),
        feature_count: field(line, 'feature_count'),
        distance: field(line, 'distance'),
        elapsed_time: field(line, 'elapsed_time'),
      });
    } else if (chat) {
      lines.push({
        rpc: 'RouteChat',
        message: chat[1]!,
        latitude: Number(chat[2]),
        longitude: Number(chat[3]),
      });
    }
  }
  return lines;
}

describe('official gRPC-Go RouteGuide client (interop)', () => {
  test('the official Go RouteGuide client, unmodified, gets the canonical answers from our core server', async (t) => {
    if (!requireOfficialGo(t)) return;
    const { client, buildMs } = await buildOfficialGo();
    t.diagnostic(
      buildMs > 0
        ? `protoc + go build of the official Go example took ${buildMs} ms`
        : 'the official Go example was built earlier in this test run',
    );

    // A fresh core: RouteChat's echoes depend on no earlier notes at (0,1)..(0,3).
    const core = await spawnCore();
    try {
      let stderr: string;
      try {
        ({ stderr } = await execFileAsync(client, ['-server_addr', core.address], {
          timeout: 60_000,
          maxBuffer: 10 * 1024 * 1024,
        }));
      } catch (error) {
        const output = error as { stdout?: string; stderr?: string };
        return assert.fail(
          `the official Go client failed: ${(error as Error).message}\n${output.stderr ?? ''}${output.stdout ?? ''}`,
        );
      }
      const answers = parseOfficialClientLog(stderr);
      assertCanonicalAnswers(answers);
      const summary = answers.find((line) => line.rpc === 'RecordRoute');
      assert.ok(summary?.sent_points !== undefined && summary.sent_points >= 2, stderr);
    } finally {
      await core.stop();
    }
  });
});
