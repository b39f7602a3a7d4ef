/**
 * The v1 wire contract of the RouteChat WebSocket: every frame's schema and every constant. The
 * gateway, the client library, the docs (`npm run docs`) and the tests all derive from this file.
 */
import { z } from 'zod';
import { errorDetailSchema, MAX_ERROR_DETAILS } from '../common/error-details.js';
import { STATUS_NAMES } from '../common/status.js';
import { wellFormedString } from '../common/strings.js';

/** The WebSocket endpoint. */
export const ROUTECHAT_PATH = '/v1/routechat';
/** The subprotocol the gateway selects when a client offers it. */
export const SUBPROTOCOL = 'routechat.v1';
/** `bearer.<token>` in Sec-WebSocket-Protocol becomes `authorization: Bearer <token>`; never echoed. */
export const BEARER_SUBPROTOCOL_PREFIX = 'bearer.';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** proto3 JSON int32: a JSON number, or a decimal string, within int32. */
export const int32Schema = z.preprocess(
  (value) => (typeof value === 'string' && /^-?\d{1,10}$/.test(value) ? Number(value) : value),
  z
    .number({ error: 'expected an int32 (a JSON number or a decimal string)' })
    .int({ error: 'expected an integer' })
    .min(INT32_MIN, { error: `must be at least ${INT32_MIN} (int32)` })
    .max(INT32_MAX, { error: `must be at most ${INT32_MAX} (int32)` }),
);

/** A Point in E7 degrees; omitted fields take the proto default 0. */
export const pointSchema = z.strictObject({
  latitude: int32Schema.default(0),
  longitude: int32Schema.default(0),
});

/** A RouteNote in the proto3 JSON mapping; unknown fields are rejected, omitted ones default. */
export const routeNoteSchema = z.strictObject({
  location: pointSchema
    .nullable()
    .default(null)
    .transform((point) => point ?? { latitude: 0, longitude: 0 }),
  message: wellFormedString()
    .nullable()
    .default(null)
    .transform((message) => message ?? ''),
});

/** The client has finished sending (gRPC half-close). */
export const endFrameSchema = z.strictObject({ type: z.literal('end') });

/** A note as the gateway sends it: every field present. */
export const noteFrameSchema = z.strictObject({
  location: z.strictObject({ latitude: z.number().int(), longitude: z.number().int() }),
  message: wellFormedString(),
});

/** Why a client frame was rejected (the error frame's `reason`; also a metrics label). */
export const REJECT_REASONS = [
  'binary_frame',
  'invalid_json',
  'not_an_object',
  'too_complex',
  'invalid_note',
  'invalid_frame_type',
  'after_end',
  'rate_limited',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** What each rejection reason means, for the generated docs. */
export const REJECT_REASON_MEANINGS: Readonly<Record<RejectReason, string>> = {
  binary_frame: 'A binary frame: the protocol uses JSON text frames only.',
  invalid_json: 'The text is not JSON, or uses a forbidden key (`__proto__`, `constructor.prototype`).',
  not_an_object: 'The JSON is not an object (an array, a string, a number, null).',
  too_complex: 'Nesting, key count or a string length is over the limit; refused before parsing.',
  invalid_note: 'The object is not a valid RouteNote (unknown field, wrong type, int32 out of range).',
  invalid_frame_type: 'A `type` other than "end", or an end frame with other fields.',
  after_end: 'A frame after the client sent "end", or while the gateway is shutting down.',
  rate_limited: 'The connection kept sending faster than its rate limit (code RESOURCE_EXHAUSTED).',
};

/** A client frame was rejected: it was not forwarded; the stream stays open. */
export const errorFrameSchema = z.strictObject({
  type: z.literal('error'),
  code: z.enum(STATUS_NAMES),
  reason: z.enum(REJECT_REASONS),
  message: wellFormedString(),
  details: z.array(errorDetailSchema).max(MAX_ERROR_DETAILS),
});

/** The call ended, for any reason; always the last frame before the close. */
export const statusFrameSchema = z.strictObject({
  type: z.literal('status'),
  code: z.number().int().min(0).max(16),
  name: z.enum(STATUS_NAMES),
  message: wellFormedString(),
  metadata: z.record(wellFormedString(), wellFormedString()),
});

export const serverFrameSchema = z.union([statusFrameSchema, errorFrameSchema, noteFrameSchema]);

export type RouteNoteInput = z.input<typeof routeNoteSchema>;
export type RouteNoteJson = z.output<typeof routeNoteSchema>;
export type NoteFrame = z.output<typeof noteFrameSchema>;
export type ErrorFrame = z.output<typeof errorFrameSchema>;
export type StatusFrame = z.output<typeof statusFrameSchema>;
export type ServerFrame = z.output<typeof serverFrameSchema>;
