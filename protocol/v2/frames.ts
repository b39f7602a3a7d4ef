/**
 * The v2 wire contract: every frame's zod schema. Every frame is a JSON object with a `type`;
 * every stream frame carries the client-chosen `id`. See docs/protocol.md ("Protocol v2").
 */
import { z } from 'zod';
import { errorDetailSchema, MAX_ERROR_DETAILS } from '../common/error-details.js';
import { STATUS_NAMES } from '../common/status.js';
import { MAX_METHOD_NAME_LENGTH, MAX_STREAM_ID_LENGTH, MAX_TIMEOUT_MS } from './constants.js';

/** 1 to MAX_STREAM_ID_LENGTH code points, none a control character or a lone surrogate. */
const STREAM_ID = new RegExp(`^[^\\p{Cc}\\p{Cs}]{1,${MAX_STREAM_ID_LENGTH}}$`, 'u');

export const STREAM_ID_RULE = `1 to ${MAX_STREAM_ID_LENGTH} characters of well-formed text, no control characters`;

/** A usable stream id (see MAX_STREAM_ID_LENGTH). */
export const isStreamId = (value: unknown): value is string =>
  typeof value === 'string' && value.length <= 2 * MAX_STREAM_ID_LENGTH && STREAM_ID.test(value);

export const streamIdSchema = z
  .string()
  .min(1)
  .refine(isStreamId, { error: STREAM_ID_RULE })
  // JSON Schema counts a string's length in code points, as the rule does.
  .meta({ maxLength: MAX_STREAM_ID_LENGTH, description: STREAM_ID_RULE });

/** Opens a stream: one call of `method` (`package.Service/Method`). */
export const openFrameSchema = z.strictObject({
  type: z.literal('open'),
  id: streamIdSchema,
  method: z.string().min(1).max(MAX_METHOD_NAME_LENGTH),
  /** Extra gRPC metadata for this call; reserved and transport keys are refused. */
  metadata: z.record(z.string(), z.string()).optional(),
  /** The call's deadline, from now: DEADLINE_EXCEEDED when it passes. */
  timeoutMs: z.number().int().min(1).max(MAX_TIMEOUT_MS).optional(),
  /** Send the core's response headers as a `headers` frame (off by default: most clients need none). */
  responseHeaders: z.boolean().optional(),
});

/** A request message in the proto3 JSON mapping of the method's request type. */
export const clientMessageFrameSchema = z.strictObject({
  type: z.literal('message'),
  id: streamIdSchema,
  message: z.unknown().refine((value) => value !== undefined, { error: 'required' }),
});

/** The client has finished sending on this stream (gRPC half-close). */
export const endStreamFrameSchema = z.strictObject({ type: z.literal('end'), id: streamIdSchema });

/** The client abandons this stream: the call is cancelled, the status is CANCELLED. */
export const cancelFrameSchema = z.strictObject({ type: z.literal('cancel'), id: streamIdSchema });

export const clientFrameV2Schema = z.discriminatedUnion('type', [
  openFrameSchema,
  clientMessageFrameSchema,
  endStreamFrameSchema,
  cancelFrameSchema,
]);

/** A response message, in the proto3 JSON mapping of the response type, every field present. */
export const serverMessageFrameSchema = z.strictObject({
  type: z.literal('message'),
  id: streamIdSchema,
  message: z.unknown(),
});

/**
 * The text of a message frame is `messageFramePrefix(id) + JSON.stringify(message) + '}'`: exactly
 * `JSON.stringify({ type: 'message', id, message })`, with the prefix made once per stream instead of
 * the whole object once per message (the frame most sent; test/protocol/v2-frames.test.ts).
 */
export const messageFramePrefix = (id: string): string =>
  `{"type":"message","id":${JSON.stringify(id)},"message":`;
export const MESSAGE_FRAME_SUFFIX = '}';

/** Why a client frame was rejected (the error frame's `reason`; also a metrics label). */
export const V2_REJECT_REASONS = [
  'binary_frame',
  'invalid_binary_frame',
  'text_message',
  'invalid_json',
  'not_an_object',
  'too_complex',
  'invalid_frame_type',
  'invalid_frame',
  'unknown_stream',
  'duplicate_stream',
  'invalid_message',
  'message_too_large',
  'no_credit',
  'after_end',
  'rate_limited',
] as const;
export type V2RejectReason = (typeof V2_REJECT_REASONS)[number];

/** Reasons whose error code is RESOURCE_EXHAUSTED; every other one is INVALID_ARGUMENT. */
export const RESOURCE_REJECT_REASONS: ReadonlySet<V2RejectReason> = new Set([
  'message_too_large',
  'no_credit',
  'rate_limited',
]);

export const V2_REJECT_REASON_MEANINGS: Readonly<Record<V2RejectReason, string>> = {
  binary_frame:
    'A binary frame on a `gateway.v2` socket: it uses JSON text frames only (binary frames need `gateway.v2.binary`). (socket)',
  invalid_binary_frame:
    'On `gateway.v2.binary`: a binary frame too short, of an unknown kind, whose id length does not fit, or whose id is not UTF-8 or not a valid stream id. (socket)',
  text_message:
    'On `gateway.v2.binary`: a JSON `message` frame; messages travel as binary frames there. (stream)',
  invalid_json:
    'The text is not JSON, or uses a forbidden key (`__proto__`, `constructor.prototype`). (socket)',
  not_an_object: 'The JSON is not an object. (socket)',
  too_complex: 'Nesting, key count or a string length is over the limit; refused before parsing. (socket)',
  invalid_frame_type: 'A `type` other than open, message, end or cancel, or no valid `id`. (socket)',
  invalid_frame: 'A frame of a known type with a missing, unknown or ill-typed field. (stream)',
  unknown_stream: 'A message, end or cancel frame whose `id` names no open stream. (socket)',
  duplicate_stream: 'An `open` whose `id` is already an open stream of this socket. (socket)',
  invalid_message:
    'The message is not valid proto3 JSON for the request type (unknown field, wrong type, int out of range, ill-formed string…), or on `gateway.v2.binary` not valid protobuf bytes of it (truncated, wrong wire type, unknown field, ill-formed UTF-8…). (stream)',
  message_too_large: 'The encoded message is over the per-message limit (`--max-message-size`). (stream)',
  no_credit:
    'A message sent without credit: the stream had used every message its credit frames allowed. (stream)',
  after_end:
    'A message after the stream was half-closed (by `end`, after a unary request, or at shutdown). (stream)',
  rate_limited: 'The socket kept sending faster than its rate limit. (socket)',
};

/**
 * A rejected client frame. With `id`: that stream's frame was not used; the stream goes on (too
 * many end it). Without `id`: the frame named no valid stream; too many close the socket (1008).
 */
export const errorFrameV2Schema = z.strictObject({
  type: z.literal('error'),
  id: streamIdSchema.optional(),
  code: z.enum(STATUS_NAMES),
  reason: z.enum(V2_REJECT_REASONS),
  message: z.string(),
  details: z.array(errorDetailSchema).max(MAX_ERROR_DETAILS),
});

/** The last frame of every stream, always sent, whatever ended it. */
export const statusFrameV2Schema = z.strictObject({
  type: z.literal('status'),
  id: streamIdSchema,
  code: z.number().int().min(0).max(16),
  name: z.enum(STATUS_NAMES),
  message: z.string(),
  metadata: z.record(z.string(), z.string()),
});

/**
 * The core's response headers (gRPC initial metadata), for a stream opened with `responseHeaders`:
 * at most one, before the stream's first message. None when the core answered with its status alone
 * (a Trailers-Only response: the status frame's metadata is then everything the core sent).
 */
export const headersFrameSchema = z.strictObject({
  type: z.literal('headers'),
  id: streamIdSchema,
  metadata: z.record(z.string(), z.string()),
});

/** Flow control: the client may send `messages` more message frames on this stream. */
export const creditFrameSchema = z.strictObject({
  type: z.literal('credit'),
  id: streamIdSchema,
  messages: z.number().int().min(1),
});

export const serverFrameV2Schema = z.discriminatedUnion('type', [
  serverMessageFrameSchema,
  headersFrameSchema,
  errorFrameV2Schema,
  statusFrameV2Schema,
  creditFrameSchema,
]);

export type OpenFrame = z.output<typeof openFrameSchema>;
export type ClientFrameV2 = z.output<typeof clientFrameV2Schema>;
export type ServerMessageFrame = z.output<typeof serverMessageFrameSchema>;
export type ErrorFrameV2 = z.output<typeof errorFrameV2Schema>;
export type StatusFrameV2 = z.output<typeof statusFrameV2Schema>;
export type HeadersFrame = z.output<typeof headersFrameSchema>;
export type CreditFrame = z.output<typeof creditFrameSchema>;
export type ServerFrameV2 = z.output<typeof serverFrameV2Schema>;
