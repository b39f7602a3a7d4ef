/**
 * The bench harness must not rot: build, run `--quick` into a temporary directory, and check that
 * every section is there with sane, positive numbers. No timing thresholds: figures vary by machine.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'bench-quick-'));
after(() => rmSync(out, { recursive: true, force: true }));

type Json = Record<string, unknown>;
const at = (value: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((node, key) => (node as Json | undefined)?.[key], value);

function assertPositive(results: Json, paths: readonly string[]): void {
  for (const path of paths) {
    const value = at(results, path);
    assert.equal(typeof value, 'number', `${path} is a number (got ${JSON.stringify(value)})`);
    assert.ok(Number.isFinite(value as number) && (value as number) > 0, `${path} > 0 (got ${value})`);
  }
}

test('npm run bench -- --quick writes results with every section', { timeout: 180_000 }, () => {
  // Shorter still than --quick (about 20 s less): this checks that every section runs, not its figures.
  const smaller = ['--measure-ms', '600', '--scale-connections', '200', '--v2-scale-sockets', '20'];
  execFileSync('npm', ['run', '-s', 'bench', '--', '--quick', ...smaller, '--out', `${out}/`], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 170_000,
  });
  const results = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as Json;

  assert.equal(at(results, 'config.quick'), true);
  for (const key of ['cpu', 'node', 'date']) assert.ok(at(results, `machine.${key}`), `machine.${key}`);
  assertPositive(results, [
    'machine.cores',
    'peak.direct.notesPerSec.median',
    'peak.gateway.notesPerSec.median',
    'peak.direct.p50Ms.median',
    'peak.gateway.p99Ms.median',
    'peak.gateway.maxMs.median',
    'peak.gateway.gatewayCpuUsPerNote.median',
    'peak.gateway.gatewayRssMiB.median',
    'peak.ratios.throughput',
    'halfPeak.rateNotesPerSec',
    'halfPeak.direct.p99Ms.median',
    'halfPeak.gateway.p99Ms.median',
    'gatewayCpu.usPerNotePair',
    'gatewayCpu.notesPerSecPerCoreEachWay',
    'scale.opened',
    'scale.openSeconds',
    'scale.gatewayRssAfterMiB',
    'slowConsumer.repliesOwed',
    'slowConsumer.gatewayRssPeakMiB',
    'slowConsumer.othersP99WithSlowMs',
    'slowConsumer.queuedBytesPeak',
    'churn.completed',
    'churn.connectionsPerSec',
    'noteStore.memory.notesPerSec.median',
    'noteStore.redis.notesPerSec.median',
    'noteStore.redis.coreCpuUsPerNote.median',
    'noteStore.redis.redisCpuUsPerNote.median',
    'noteStore.redis.p99MsAtHalf.median',
    'v2.routeChat.v1.gatewayCpuUsPerNote.median',
    'v2.routeChat.v2.gatewayCpuUsPerNote.median',
    'v2.routeChat.v2.notesPerSec.median',
    'v2.routeChat.gatewayCpuPerNoteRatio',
    'v2.encodings.json.gatewayCpuUsPerNote.median',
    'v2.encodings.binary.gatewayCpuUsPerNote.median',
    'v2.encodings.binary.notesPerSec.median',
    'v2.encodings.gatewayCpuPerNoteRatio',
    'v2.scale.opened',
    'v2.scale.gatewayRssAfterMiB',
    'v2.scale.v1GatewayRssPerConnectionKiB',
    'floor.gateway.gatewayCpuUsPerNote.median',
    'floor.floor.gatewayCpuUsPerNote.median',
    'floor.floor.notesPerSec.median',
    'floor.gateway.rssKiBPerIdleStream.median',
    'floor.floor.rssKiBPerIdleStream.median',
    'floor.ratios.cpuVsFloor',
    'floor.ratios.throughputVsFloor',
  ]);
  assert.equal(at(results, 'floor.floor.outOfOrder'), 0, "the floor's replies come back in order");
  // The Go peer is measured when it has been built into bench/.peers (never in CI).
  const peerBuilt = existsSync(fileURLToPath(new URL('../../bench/.peers/peer-gw', import.meta.url)));
  if (!peerBuilt) assert.equal(at(results, 'floor.peer'), undefined, 'no peer unless built or given');
  assert.equal(at(results, 'noteStore.redis.errors'), 0, 'every note stored in Redis');
  assert.equal(at(results, 'v2.scale.failed'), 0, 'every v2 stream opened');
  assert.equal(
    at(results, 'v2.scale.opened'),
    (at(results, 'config.v2ScaleSockets') as number) * (at(results, 'config.v2StreamsPerSocket') as number),
    'sockets × streams per socket',
  );
  assert.equal(at(results, 'v2.routeChat.v2.outOfOrder'), 0, 'v2 replies come back in order');
  assert.equal(at(results, 'v2.encodings.binary.outOfOrder'), 0, 'binary replies come back in order');
  assert.equal(at(results, 'v2.routeChat.v2.errors'), 0, 'no v2 errors');
  assert.equal(at(results, 'scale.failed'), 0, 'every idle connection opened');
  assert.equal(at(results, 'peak.gateway.outOfOrder'), 0, 'replies come back in order');
  assert.equal(
    at(results, 'slowConsumer.slowReceivedAfterResume'),
    at(results, 'slowConsumer.repliesOwed'),
    'the slow consumer gets every note once it reads again',
  );
  const targets = at(results, 'targets') as { name: string; met: boolean }[];
  // The six of the first bench (throughput now against the floor), and gateway CPU per note against
  // the floor; the peer's two need --peer.
  assert.equal(targets.length, peerBuilt ? 9 : 7);
  for (const target of targets) assert.equal(typeof target.met, 'boolean', target.name);

  const markdown = readFileSync(join(out, 'latest.md'), 'utf8');
  assert.match(markdown, /Machine: .+ cores/);
  assert.match(markdown, /\| gateway \/ direct \|/);
  assert.match(markdown, /\| redis vs memory \|/);
  assert.match(markdown, /## Protocol v2 vs v1/);
  assert.match(markdown, /\| v2 \/ v1 \|/);
  assert.match(markdown, /## The stack's floor/);
  assert.match(markdown, /gateway \/ floor: CPU ×/);
  const svg = readFileSync(join(out, 'latency.svg'), 'utf8');
  assert.match(svg, /^<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /direct gRPC/);
});
