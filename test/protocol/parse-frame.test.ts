import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  DEFAULT_FRAME_LIMITS,
  errorFrameSchema,
  isWellFormedString,
  type ParsedClientFrame,
  parseClientFrame,
  REJECT_REASONS,
  routeNoteSchema,
  toWellFormedString,
} from '../../protocol/index.js';
import { DEFAULT_V2_FRAME_LIMITS, parseClientFrameV2 } from '../../protocol/v2/index.js';

const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const validNote = fc.record(
  {
    location: fc.record(
      { latitude: fc.oneof(int32, int32.map(String)), longitude: int32 },
      { requiredKeys: [] },
    ),
    message: fc.string(),
  },
  { requiredKeys: [] },
);

/** Every parse result is one of the three kinds, and a rejection is a valid error frame. */
function assertWellFormed(result: ParsedClientFrame) {
  if (result.kind === 'rejected') {
    assert.ok(errorFrameSchema.safeParse(result.error).success, JSON.stringify(result.error));
    assert.ok(REJECT_REASONS.includes(result.error.reason));
  } else if (result.kind === 'note') {
    assert.ok(routeNoteSchema.safeParse(result.note).success);
  } else assert.equal(result.kind, 'end');
}

describe('client frame parser', () => {
  test('any string gives a note, an end or an error frame, never a throw', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 512 }), (text) => assertWellFormed(parseClientFrame(text))),
      { numRuns: 2000 },
    );
  });

  test('any JSON value gives a note, an end or an error frame, never a throw', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 12 }), (value) =>
        assertWellFormed(parseClientFrame(JSON.stringify(value))),
      ),
      { numRuns: 2000 },
    );
  });

  test('a JSON error that quotes half a surrogate pair still gives a well-formed error frame (v1 and v2)', () => {
    // V8: "Unexpected token '\ud800', "𐀀" is not valid JSON" (found by the property below).
    const text = Buffer.from([240, 144, 128, 128]).toString();
    for (const result of [parseClientFrame(text), parseClientFrameV2(text, DEFAULT_V2_FRAME_LIMITS)]) {
      assert.equal(result.kind, 'rejected');
      if (result.kind !== 'rejected') continue;
      assert.equal(result.error.reason, 'invalid_json');
      assert.ok(isWellFormedString(result.error.message), result.error.message);
    }
  });

  test('any bytes decoded as text give a well-formed result', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) =>
        assertWellFormed(parseClientFrame(Buffer.from(bytes).toString())),
      ),
      { numRuns: 1000 },
    );
  });

  test('every valid RouteNote is accepted with proto defaults filled in and strings turned into numbers', () => {
    fc.assert(
      fc.property(validNote, (input) => {
        const result = parseClientFrame(JSON.stringify(input));
        assert.equal(result.kind, 'note');
        if (result.kind !== 'note') return;
        assert.equal(result.note.message, input.message ?? '');
        assert.equal(result.note.location.latitude, Number(input.location?.latitude ?? 0));
        assert.equal(result.note.location.longitude, input.location?.longitude ?? 0);
      }),
      { numRuns: 2000 },
    );
  });

  test('a note with any unknown field is rejected and names the field', () => {
    fc.assert(
      fc.property(
        fc
          .string({ minLength: 1, maxLength: 20 })
          .filter((k) => !['location', 'message', 'type', '__proto__'].includes(k)),
        (key) => {
          const result = parseClientFrame(JSON.stringify({ message: 'x', [key]: 1 }));
          assert.equal(result.kind, 'rejected');
          if (result.kind === 'rejected') assert.ok(result.error.details.some((d) => d.path === key));
        },
      ),
    );
  });

  test('deeply nested or very wide frames are refused before parsing', () => {
    const deep = `${'{"a":'.repeat(1000)}1${'}'.repeat(1000)}`;
    const wide = `[${Array.from({ length: 5000 }, () => '0').join(',')}]`;
    for (const text of [deep, wide]) {
      const result = parseClientFrame(text);
      assert.equal(result.kind === 'rejected' && result.error.reason, 'too_complex');
    }
  });

  test('__proto__ and constructor.prototype keys are refused and pollute nothing', () => {
    for (const text of [
      '{"__proto__":{"polluted":1}}',
      '{"location":{"__proto__":{"polluted":1}}}',
      '{"constructor":{"prototype":{"polluted":1}}}',
    ]) {
      const result = parseClientFrame(text);
      assert.equal(result.kind, 'rejected', text);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('an end frame is exactly {"type":"end"}', () => {
    assert.deepEqual(parseClientFrame('{"type":"end"}'), { kind: 'end' });
    const extra = parseClientFrame('{"type":"end","message":"x"}');
    assert.equal(extra.kind === 'rejected' && extra.error.reason, 'invalid_frame_type');
  });

  test('a string over the limit is refused as too complex', () => {
    const result = parseClientFrame(JSON.stringify({ message: 'x'.repeat(100) }), {
      ...DEFAULT_FRAME_LIMITS,
      maxStringLength: 50,
    });
    assert.equal(result.kind === 'rejected' && result.error.reason, 'too_complex');
  });

  test('a string with a lone surrogate is rejected as invalid_note with its path; surrogate pairs pass', () => {
    for (const escaped of ['a\\ud800b', '\\udc00', 'x\\ud83d', '\\ude00\\ud83d']) {
      const result = parseClientFrame(`{"location":{"latitude":1,"longitude":2},"message":"${escaped}"}`);
      assert.equal(result.kind, 'rejected', escaped);
      if (result.kind !== 'rejected') continue;
      assert.equal(result.error.reason, 'invalid_note');
      assert.equal(result.error.code, 'INVALID_ARGUMENT');
      assert.deepEqual(
        result.error.details.map((d) => d.path),
        ['message'],
      );
    }
    const pair = parseClientFrame('{"message":"\\ud83d\\ude00 ok"}');
    assert.equal(pair.kind === 'note' && pair.note.message, '\u{1F600} ok');
  });

  test('an unknown key with a lone surrogate gets a well-formed error frame', () => {
    const result = parseClientFrame('{"message":"x","k\\ud800":1}');
    assert.equal(result.kind, 'rejected');
    if (result.kind !== 'rejected') return;
    assert.ok(errorFrameSchema.safeParse(result.error).success, JSON.stringify(result.error));
    assert.equal(result.error.details[0]?.path, 'k\uFFFD');
  });

  test('any JSON with arbitrary UTF-16 strings gives a note with well-formed text or a well-formed error frame', () => {
    const anyUtf16 = fc.string({ unit: 'binary', maxLength: 16 });
    fc.assert(
      fc.property(fc.record({ message: anyUtf16 }), fc.dictionary(anyUtf16, fc.integer()), (value, extra) => {
        const result = parseClientFrame(JSON.stringify({ ...value, ...extra }));
        assertWellFormed(result);
        if (result.kind === 'note') assert.ok(isWellFormedString(result.note.message));
        if (result.kind === 'rejected')
          for (const detail of result.error.details) assert.ok(isWellFormedString(detail.path));
      }),
      { numRuns: 2000 },
    );
    assert.equal(toWellFormedString('a\ud800b'), 'a\uFFFDb');
  });
});
