/**
 * Hostile client frames and the one run that checks them: each must get exactly one error frame
 * (or be accepted as proto3 JSON allows), and nothing else on the stream may be lost.
 */
import assert from 'node:assert/strict';
import { CloseCode, type ErrorFrame, type NoteFrame } from '../../protocol/index.js';
import { connect, isError, isStatus, note } from './gateway.js';

/** Frames the gateway must reject, one error frame each. */
export const HOSTILE_REJECTED: readonly string[] = [
  '{"location":{"latitude":1e308,"longitude":0}}',
  '{"location":{"latitude":1e400,"longitude":0}}',
  '{"location":{"latitude":-1e400}}',
  '{"location":{"latitude":9007199254740993}}',
  '{"location":{"latitude":2147483647.5}}',
  '{"location":{"latitude":1.5}}',
  '{"location":{"latitude":"1.5"}}',
  '{"location":{"latitude":"1e3"}}',
  '{"location":{"latitude":"0x10"}}',
  '{"location":{"latitude":" 1"}}',
  '{"location":{"latitude":"+1"}}',
  '{"location":{"latitude":"\uff11"}}',
  '{"location":{"latitude":"NaN"}}',
  '{"location":{"latitude":"Infinity"}}',
  '{"location":{"latitude":"2147483648"}}',
  '{"location":{"latitude":"-2147483649"}}',
  '{"location":{"latitude":"00000000001"}}',
  '{"location":{"latitude":true}}',
  '{"location":{"latitude":{"a":1}}}',
  '{"location":[1,2]}',
  '{"location":"x"}',
  '{"location":{"latitude":1,"longitude":2,"altitude":3}}',
  '{"message":{}}',
  '{"message":[]}',
  '{"message":true}',
  String.raw`{"message":"a\ud800b"}`,
  String.raw`{"message":"\udfff"}`,
  String.raw`{"message":"ok","message":"\ud800"}`,
  String.raw`{"message\u0000":1}`,
  '{"__proto__":{"polluted":true}}',
  '{"location":{"__proto__":1}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"constructor":1}',
  '{"toString":1}',
  '{"type":"end","type":"x"}',
  '{"type":null}',
  '{"type":"end","message":"x"}',
  '',
  '   ',
  'null',
  '[]',
  '1',
  '"x"',
  '{"message":"unterminated',
  `${'{"a":'.repeat(20)}1${'}'.repeat(20)}`,
];

/** Odd but valid frames: proto3 JSON accepts them (a BOM is ignored, as RFC 8259 allows). */
export const HOSTILE_ACCEPTED: readonly string[] = [
  '{"location":{"latitude":-0,"longitude":"-0"}}',
  '{"location":{"latitude":1e3,"longitude":1.0}}',
  '{"location":{"latitude":"2147483647","longitude":"-2147483648"}}',
  '{"location":null,"message":null}',
  '{}',
  '{"message":"a","message":"b"}',
  '\ufeff{"message":"bom"}',
  String.raw`{"message":"nul\u0000 and \ud83d\ude00"}`,
  `{"message":"${'\u00e9'.repeat(10_000)}"}`,
  // Just under the default 64 KiB frame limit.
  `{"message":"${'x'.repeat(65_000)}"}`,
];

/**
 * Sends every hostile frame, each followed by a probe note at a location of its own, then `end`.
 * Every rejected frame gets one error frame, every probe comes back, and the call ends OK.
 */
/** The gateway options the run needs: every hostile frame counts toward --max-rejected-frames. */
export const HOSTILE_GATEWAY_OPTIONS = { 'max-rejected-frames': 1000 } as const;

export async function assertHostileFramesLoseNothing(wsUrl: string): Promise<void> {
  const client = connect(wsUrl);
  await client.opened;
  const frames = [...HOSTILE_REJECTED, ...HOSTILE_ACCEPTED];
  frames.forEach((frame, i) => {
    client.send(frame);
    client.send(note(900_000, i, `probe ${i}`));
  });
  client.ws.send(Buffer.from([0xff, 0x00]), { binary: true });
  client.send({ type: 'end' });
  const closed = await client.closed;
  const errors = client.frames.filter((f): f is ErrorFrame => isError(f));
  const notes = client.frames.filter((f): f is NoteFrame => 'location' in f);
  const reasons = errors.map((e) => e.reason);
  assert.equal(
    errors.length,
    HOSTILE_REJECTED.length + 1,
    `one error frame per hostile frame: ${JSON.stringify(reasons)}`,
  );
  assert.ok(errors.every((e) => e.code === 'INVALID_ARGUMENT'));
  for (let i = 0; i < frames.length; i += 1) {
    const probes = notes.filter((n) => n.location.latitude === 900_000 && n.location.longitude === i);
    assert.deepEqual(probes, [note(900_000, i, `probe ${i}`)], `probe ${i} came back once`);
  }
  assert.ok(!notes.some((n) => n.message.includes('\ufffd')), 'no note was changed on the way');
  const status = client.frames.at(-1);
  assert.ok(isStatus(status), JSON.stringify(status));
  assert.equal(status.name, 'OK');
  assert.equal(closed.code, CloseCode.NORMAL);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
}
