/** v2 frames built as text: the same bytes as the frame object serialized, for any id and message. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  isStreamId,
  MAX_STREAM_ID_LENGTH,
  MESSAGE_FRAME_SUFFIX,
  messageFramePrefix,
  serverFrameV2Schema,
} from '../../protocol/v2/index.js';

describe('v2 message frame text', () => {
  test('prefix + message JSON + suffix is exactly JSON.stringify of the frame, for any id and message', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: MAX_STREAM_ID_LENGTH, unit: 'binary' }).filter(isStreamId),
        fc.jsonValue(),
        (id, message) => {
          const text = messageFramePrefix(id) + JSON.stringify(message) + MESSAGE_FRAME_SUFFIX;
          assert.equal(text, JSON.stringify({ type: 'message', id, message }));
          assert.ok(serverFrameV2Schema.safeParse(JSON.parse(text)).success);
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('a stream id is 1 to 64 code points of well-formed text without control characters', () => {
    assert.ok(isStreamId('a'));
    assert.ok(isStreamId('😀'.repeat(MAX_STREAM_ID_LENGTH)), '64 astral code points (128 UTF-16 units)');
    assert.ok(!isStreamId('😀'.repeat(MAX_STREAM_ID_LENGTH + 1)));
    assert.ok(!isStreamId(''));
    for (const bad of ['a\u0000', '\ud800', 'x\udc00y', 'tab\t', 'del\u007f', 'c1\u0085', 'nl\n'])
      assert.ok(!isStreamId(bad), JSON.stringify(bad));
  });
});
