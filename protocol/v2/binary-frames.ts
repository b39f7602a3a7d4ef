/**
 * v2's binary encoding (subprotocol `gateway.v2.binary`): a `message` frame, either way, is one
 * binary WebSocket frame holding the stream id and the protobuf bytes of the message, with no JSON
 * for the payload. Every other frame (open, end, cancel; credit, error, status) stays the JSON text
 * frame of frames.ts. Pure: the gateway and the client library both read and write it here.
 *
 *   byte 0      kind: 0x01 (a message; no other kind is defined)
 *   bytes 1-2   n, the id's length in UTF-8 bytes (unsigned, big-endian), 1 or more
 *   bytes 3…    the id (UTF-8, the stream id rule of frames.ts), then the message's protobuf bytes
 *               (possibly none: a message whose every field is at its default)
 */
import { isStreamId, STREAM_ID_RULE } from './frames.js';

export const BINARY_MESSAGE_KIND = 0x01;
/** Kind and id length: the bytes before the id. */
export const BINARY_FRAME_HEADER_BYTES = 3;

export type DecodedBinaryFrame =
  | { readonly ok: true; readonly id: string; readonly message: Uint8Array }
  | { readonly ok: false; readonly problem: string };

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The bytes before a stream's messages: made once per stream, then joined to each message. */
export function binaryFramePrefix(id: string): Uint8Array {
  const idBytes = utf8.encode(id);
  const prefix = new Uint8Array(BINARY_FRAME_HEADER_BYTES + idBytes.length);
  prefix[0] = BINARY_MESSAGE_KIND;
  prefix[1] = idBytes.length >> 8;
  prefix[2] = idBytes.length & 0xff;
  prefix.set(idBytes, BINARY_FRAME_HEADER_BYTES);
  return prefix;
}

/** One binary message frame: `prefix` (binaryFramePrefix) then `message`. */
export function binaryMessageFrame(prefix: Uint8Array, message: Uint8Array): Uint8Array {
  const frame = new Uint8Array(prefix.length + message.length);
  frame.set(prefix, 0);
  frame.set(message, prefix.length);
  return frame;
}

/** A binary frame → its stream id and message bytes (a view, not a copy), or what is wrong with it. */
export function decodeBinaryFrame(frame: Uint8Array): DecodedBinaryFrame {
  if (frame.length < BINARY_FRAME_HEADER_BYTES + 1)
    return { ok: false, problem: `a binary frame is at least ${BINARY_FRAME_HEADER_BYTES + 1} bytes` };
  if (frame[0] !== BINARY_MESSAGE_KIND)
    return {
      ok: false,
      problem: `unknown binary frame kind 0x${(frame[0] ?? 0).toString(16).padStart(2, '0')}`,
    };
  const idLength = ((frame[1] ?? 0) << 8) | (frame[2] ?? 0);
  const idEnd = BINARY_FRAME_HEADER_BYTES + idLength;
  if (idLength === 0 || idEnd > frame.length)
    return { ok: false, problem: `the id length ${idLength} does not fit the frame's ${frame.length} bytes` };
  let id: string;
  try {
    id = strictUtf8.decode(frame.subarray(BINARY_FRAME_HEADER_BYTES, idEnd));
  } catch {
    return { ok: false, problem: 'the id is not UTF-8' };
  }
  if (!isStreamId(id)) return { ok: false, problem: `the id is not a stream id: ${STREAM_ID_RULE}` };
  return { ok: true, id, message: frame.subarray(idEnd) };
}
