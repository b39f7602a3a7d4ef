import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseNoteSession } from '../../protocol/common/note-session.js';

const UUID = '0b6f1a52-4b8e-4d6c-9a53-2f7d7c1e9b10';

describe('parseNoteSession', () => {
  test('neither key: no session (at-most-once, as without the feature)', () => {
    assert.deepEqual(parseNoteSession([], []), { ok: true, value: undefined });
  });

  test('both, well-formed', () => {
    assert.deepEqual(parseNoteSession([UUID], ['0']), {
      ok: true,
      value: { session: UUID, firstSequence: 0 },
    });
    assert.deepEqual(parseNoteSession(['abcdefgh'], [String(Number.MAX_SAFE_INTEGER)]), {
      ok: true,
      value: { session: 'abcdefgh', firstSequence: Number.MAX_SAFE_INTEGER },
    });
    assert.equal(parseNoteSession(['A_b-'.repeat(16)], ['42']).ok, true);
  });

  const refused: [string, string[], string[], RegExp][] = [
    ['a sequence without a session', [], ['1'], /note-sequence needs note-session/],
    ['a session without a sequence', [UUID], [], /note-session needs note-sequence/],
    ['a session given twice', [UUID, UUID], ['1'], /note-session given 2 times/],
    ['a sequence given twice', [UUID], ['1', '2'], /note-sequence given 2 times/],
    ['a short session', ['abcdefg'], ['1'], /8 to 64 characters/],
    ['a long session', ['a'.repeat(65)], ['1'], /8 to 64 characters/],
    ['a session with a space', ['abcd efgh'], ['1'], /A-Z, a-z, 0-9, - and _/],
    ['a session with non-ASCII', ['abcdéfgh'], ['1'], /8 to 64 characters/],
    ['a negative sequence', [UUID], ['-1'], /decimal integer from 0/],
    ['a signed sequence', [UUID], ['+1'], /decimal integer from 0/],
    ['a leading zero', [UUID], ['01'], /no leading zero/],
    ['a fraction', [UUID], ['1.5'], /decimal integer/],
    ['an exponent', [UUID], ['1e3'], /decimal integer/],
    ['an empty sequence', [UUID], [''], /decimal integer/],
    ['past 2^53 - 1', [UUID], [String(Number.MAX_SAFE_INTEGER + 1)], /9007199254740991/],
    ['17 digits', [UUID], ['10000000000000000'], /decimal integer/],
  ];
  for (const [name, session, sequence, message] of refused) {
    test(`refused: ${name}`, () => {
      const result = parseNoteSession(session, sequence);
      assert.equal(result.ok, false);
      if (!result.ok) assert.match(result.message, message);
    });
  }
});
