import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { createMethodCatalog, registryFromProtoFiles } from '../../gateway/methods/index.js';
import { RouteNoteSchema } from '../../proto/es/route_guide_pb.js';
import {
  BINARY_MESSAGE_KIND,
  binaryFramePrefix,
  binaryMessageFrame,
  decodeBinaryFrame,
  MAX_STREAM_ID_LENGTH,
} from '../../protocol/v2/index.js';
import { REPO_ROOT } from '../helpers/core.js';

describe('v2 binary message frames', () => {
  test('a frame is the kind, the id length, the id and the message; it decodes to the same id and bytes', () => {
    const message = new Uint8Array([1, 2, 3]);
    const frame = binaryMessageFrame(binaryFramePrefix('s1'), message);
    assert.deepEqual([...frame], [BINARY_MESSAGE_KIND, 0, 2, 0x73, 0x31, 1, 2, 3]);
    const decoded = decodeBinaryFrame(frame);
    assert.ok(decoded.ok);
    assert.equal(decoded.id, 's1');
    assert.deepEqual([...decoded.message], [1, 2, 3]);
  });

  test('the longest id (64 four-byte code points, 256 bytes) fits the two-byte length', () => {
    const id = '😀'.repeat(MAX_STREAM_ID_LENGTH);
    const decoded = decodeBinaryFrame(binaryMessageFrame(binaryFramePrefix(id), new Uint8Array()));
    assert.ok(decoded.ok && decoded.id === id);
  });

  test('an id the stream id rule refuses is refused in a binary frame too', () => {
    const decoded = decodeBinaryFrame(binaryMessageFrame(binaryFramePrefix('a\u0000b'), new Uint8Array()));
    assert.equal(decoded.ok, false);
  });
});

describe('the codec checks binary requests and passes them on unchanged', () => {
  const catalog = createMethodCatalog([registryFromProtoFiles([`${REPO_ROOT}proto/route_guide.proto`])], {
    allow: [],
    maxMessageBytes: 1024,
  });
  const found = catalog.lookup('routeguide.RouteGuide/RouteChat');
  assert.ok(found.kind === 'found');
  const codec = found.method.codec;

  test('valid bytes are forwarded as the same bytes, not re-encoded', () => {
    const canonical = toBinary(
      RouteNoteSchema,
      create(RouteNoteSchema, { location: { latitude: 1 }, message: 'x' }),
    );
    const parsed = codec.checkRequestBytes(canonical);
    assert.ok(parsed.ok);
    assert.equal(parsed.bytes, canonical);
    // Fields out of number order: valid protobuf, not what a writer writes; still passed on as sent.
    const reordered = new Uint8Array([0x12, 0x01, 0x78, 0x0a, 0x02, 0x08, 0x01]);
    const parsedReordered = codec.checkRequestBytes(reordered);
    assert.ok(parsedReordered.ok);
    assert.equal(parsedReordered.bytes, reordered);
  });

  test('bytes over the message limit are message_too_large before any decoding', () => {
    const parsed = codec.checkRequestBytes(new Uint8Array(1025));
    assert.equal(parsed.ok === false && parsed.reason, 'message_too_large');
  });
});
