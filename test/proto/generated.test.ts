import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { ROUTE_CHAT_METHOD, routeguide, WATCH_METHOD } from '../../proto/index.js';
import { REPO_ROOT } from '../helpers/core.js';

const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );

/** The checked-in folder holds exactly the `expected` files generated into `out`, byte for byte. */
function assertSameFiles(checkedIn: string, out: string, expected: readonly string[]): void {
  assert.deepEqual(
    filesUnder(checkedIn)
      .map((f) => relative(checkedIn, f))
      .sort(),
    expected,
  );
  for (const file of expected) {
    assert.equal(readFileSync(join(checkedIn, file), 'utf8'), readFileSync(join(out, file), 'utf8'), file);
  }
}

describe('proto module', () => {
  test('the generated proto types are current with route_guide.proto and note_feed.proto (run npm run gen:proto)', () => {
    const out = mkdtempSync(join(tmpdir(), 'proto-gen-'));
    const script = JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')).scripts[
      'gen:proto'
    ] as string;
    const args = script
      .split(' ')
      .slice(1)
      .map((arg) => (arg === '--outDir=proto/generated' ? `--outDir=${out}` : arg));
    execFileSync(`${REPO_ROOT}node_modules/.bin/proto-loader-gen-types`, args, { cwd: REPO_ROOT });
    const checkedIn = `${REPO_ROOT}proto/generated`;
    const expected = filesUnder(out)
      .map((f) => relative(out, f))
      .sort();
    for (const file of [
      'route_guide.ts',
      'routeguide/RouteGuide.ts',
      'note_feed.ts',
      'routeguide/NoteFeed.ts',
    ]) {
      assert.ok(expected.includes(file), `gen:proto generates ${file}`);
    }
    assertSameFiles(checkedIn, out, expected);
  });

  test('the protoc-gen-es code in proto/es is current with every .proto in proto/ (run npm run generate)', () => {
    const out = mkdtempSync(join(tmpdir(), 'proto-es-'));
    execFileSync(`${REPO_ROOT}node_modules/.bin/tsx`, [`${REPO_ROOT}scripts/generate-es.ts`, out], {
      cwd: REPO_ROOT,
    });
    const checkedIn = `${REPO_ROOT}proto/es`;
    const expected = filesUnder(out)
      .map((f) => relative(out, f))
      .sort();
    assert.deepEqual(expected, ['note_feed_pb.ts', 'route_guide_pb.ts']);
    assertSameFiles(checkedIn, out, expected);
  });

  test('RouteGuide keeps the canonical method paths and the RouteNote field spelled "message"; NoteFeed has Watch', () => {
    const service = routeguide.RouteGuide.service;
    assert.deepEqual(
      Object.values(service)
        .map((m) => m.path)
        .sort(),
      [
        '/routeguide.RouteGuide/GetFeature',
        '/routeguide.RouteGuide/ListFeatures',
        '/routeguide.RouteGuide/RecordRoute',
        ROUTE_CHAT_METHOD,
      ].sort(),
    );
    assert.deepEqual(
      Object.values(routeguide.NoteFeed.service).map((m) => [m.path, m.requestStream, m.responseStream]),
      [[WATCH_METHOD, false, true]],
    );
    assert.equal(WATCH_METHOD, '/routeguide.NoteFeed/Watch');
    const note = routeguide.RouteNote.type as unknown as { field: { name: string; number: number }[] };
    assert.deepEqual(
      note.field.map((f) => [f.name, f.number]),
      [
        ['location', 1],
        ['message', 2],
      ],
    );
  });
});
