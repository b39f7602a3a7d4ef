/** The bench's own arithmetic and flags: what a soak reports and how `--soak`/`--only`/`--peer` read. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration, readConfig } from '../../bench/config.js';
import { parsePeer } from '../../bench/floor.js';
import { slope } from '../../bench/soak.js';

test('--soak reads seconds, minutes and hours, and refuses anything else', () => {
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('30m'), 1_800_000);
  assert.equal(parseDuration('1.5h'), 5_400_000);
  for (const bad of ['30', '5d', 'm', '-1m'])
    assert.throws(() => parseDuration(bad), /--soak takes a duration/);
  assert.equal(readConfig(['--soak', '2m']).soakMs, 120_000);
  assert.equal(readConfig([]).soakMs, undefined);
});

test('--only takes the sections that exist', () => {
  for (const section of ['v2-routechat', 'v2-binary', 'floor'] as const)
    assert.equal(readConfig(['--only', section]).only, section);
  assert.throws(
    () => readConfig(['--only', 'everything']),
    /--only takes "v2-routechat", "v2-binary", "floor"/,
  );
});

test('--peer is a running peer when it is a ws URL, and a binary to start otherwise', () => {
  assert.deepEqual(parsePeer('ws://127.0.0.1:8090'), { url: '127.0.0.1:8090' });
  assert.deepEqual(parsePeer('/opt/peers/peer-gw'), { binary: '/opt/peers/peer-gw' });
  assert.equal(parsePeer(undefined), undefined);
});

test('a soak slope is the least-squares growth per step, flat when nothing grows', () => {
  assert.equal(
    slope([
      [1, 5],
      [2, 5],
      [3, 5],
    ]),
    0,
  );
  assert.equal(
    slope([
      [1, 10],
      [2, 12],
      [3, 14],
    ]),
    2,
  );
  assert.ok(
    Math.abs(
      slope([
        [1, 10],
        [2, 13],
        [3, 14],
        [4, 17],
      ]) - 2.2,
    ) < 1e-9,
  );
  assert.equal(slope([[1, 3]]), 0);
});
