/**
 * @deprecated The 0.1 form `new RouteChatSocket({ url, WebSocket: routeChatOverV2(client) })`
 * promised v1's error frames, and its users' code is typed for them (`NoteFate`, `ErrorFrame`), so
 * that form still gets them: v2's reasons in v1's words, with the loss that has (`unknown_stream`
 * becomes `invalid_frame_type`). `{ transport: routeChatOverV2(client) }` gets v2's own. To be
 * removed with that form.
 */
import type { ErrorFrame, RejectReason } from '../../protocol/v1/frames.js';
import type { ErrorFrameV2, V2RejectReason } from '../../protocol/v2/index.js';
import type { NoteTransport } from './note-transport.js';

const V1_REASON: Readonly<Record<V2RejectReason, RejectReason>> = {
  binary_frame: 'binary_frame',
  invalid_binary_frame: 'binary_frame',
  text_message: 'invalid_note',
  invalid_json: 'invalid_json',
  not_an_object: 'not_an_object',
  too_complex: 'too_complex',
  invalid_frame_type: 'invalid_frame_type',
  invalid_frame: 'invalid_note',
  unknown_stream: 'invalid_frame_type',
  duplicate_stream: 'invalid_frame_type',
  invalid_message: 'invalid_note',
  message_too_large: 'invalid_note',
  no_credit: 'rate_limited',
  after_end: 'after_end',
  rate_limited: 'rate_limited',
};

const inV1Words = (frame: ErrorFrameV2): ErrorFrame => ({
  type: 'error',
  code: frame.code,
  reason: V1_REASON[frame.reason],
  message: frame.message,
  details: frame.details,
});

/** `transport`, its error frames told in v1's words. */
export function withV1ErrorFrames(transport: NoteTransport<ErrorFrameV2>): NoteTransport<ErrorFrame> {
  return {
    token: transport.token,
    open: (token, report, metadata) =>
      transport.open(token, { ...report, rejected: (frame) => report.rejected(inV1Words(frame)) }, metadata),
  };
}
