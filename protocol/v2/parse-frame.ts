/**
 * Client frame → one of the four v2 client frames, or a rejection. Pure and total. A rejection
 * carries the frame's `id` when the frame had a usable one and a known type, so the connection can
 * report it on that stream; whether the id names an open stream is the connection's business.
 */
import type { z } from 'zod';
import { capErrorDetails, type ErrorDetail } from '../common/error-details.js';
import { type FrameLimits, jsonComplexityProblem, parseJsonText } from '../common/json.js';
import {
  type ClientFrameV2,
  cancelFrameSchema,
  clientMessageFrameSchema,
  type ErrorFrameV2,
  endStreamFrameSchema,
  isStreamId,
  openFrameSchema,
  RESOURCE_REJECT_REASONS,
  STREAM_ID_RULE,
  type V2RejectReason,
} from './frames.js';

export type ParsedClientFrameV2 =
  | { readonly kind: 'frame'; readonly frame: ClientFrameV2 }
  | {
      readonly kind: 'rejected';
      /** The frame's id and type, when it had a usable id and a known type. */
      readonly id?: string;
      readonly type?: ClientFrameV2['type'];
      readonly error: ErrorFrameV2;
    };

/** The shape limits of a v2 frame: deeper and wider than v1's, since any message type travels. */
export const DEFAULT_V2_FRAME_LIMITS: FrameLimits = {
  maxDepth: 32,
  maxKeys: 10_000,
  maxStringLength: 1 << 20,
};

/** An error frame for a rejected client frame, on stream `id` when given. */
export function errorFrameV2(
  reason: V2RejectReason,
  message: string,
  details: ErrorDetail[] = [],
  id?: string,
): ErrorFrameV2 {
  return {
    type: 'error',
    ...(id === undefined ? {} : { id }),
    code: RESOURCE_REJECT_REASONS.has(reason) ? 'RESOURCE_EXHAUSTED' : 'INVALID_ARGUMENT',
    reason,
    message,
    details: capErrorDetails(details),
  };
}

const rejected = (
  reason: V2RejectReason,
  message: string,
  details: ErrorDetail[] = [],
  stream?: { id: string; type: ClientFrameV2['type'] },
): ParsedClientFrameV2 => ({
  kind: 'rejected',
  ...(stream ?? {}),
  error: errorFrameV2(reason, message, details, stream?.id),
});

export function zodDetails(error: z.ZodError): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        details.push({ path: base ? `${base}.${key}` : key, message: 'unknown field' });
    } else details.push({ path: base, message: issue.message });
  }
  return details;
}

const SCHEMAS = {
  open: openFrameSchema,
  message: clientMessageFrameSchema,
  end: endStreamFrameSchema,
  cancel: cancelFrameSchema,
} as const;

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function parseClientFrameV2(
  text: string,
  limits: FrameLimits = DEFAULT_V2_FRAME_LIMITS,
): ParsedClientFrameV2 {
  const complexity = jsonComplexityProblem(text, limits);
  if (complexity) return rejected('too_complex', `frame is too complex: ${complexity}`);
  const json = parseJsonText(text);
  if (!json.ok) return rejected('invalid_json', json.message);
  const value = json.value;
  if (!isPlainObject(value)) return rejected('not_an_object', 'frame must be a JSON object');
  const type = value.type;
  if (typeof type !== 'string' || !Object.hasOwn(SCHEMAS, type)) {
    return rejected('invalid_frame_type', `unknown frame type ${JSON.stringify(type)}`, [
      { path: 'type', message: 'expected "open", "message", "end" or "cancel"' },
    ]);
  }
  const id = value.id;
  if (!isStreamId(id)) {
    return rejected('invalid_frame_type', `${type === 'open' ? 'an' : 'a'} ${type} frame needs a valid id`, [
      { path: 'id', message: STREAM_ID_RULE },
    ]);
  }
  // Fast path for the per-note frames: `message`, `end` and `cancel` whose keys are exactly their
  // schema's (type and id were checked above, a JSON value is never undefined) are valid as they
  // are, and zod would accept them unchanged; anything else goes through zod for its details.
  const keys = Object.keys(value).length;
  if (
    (type === 'message' && keys === 3 && Object.hasOwn(value, 'message')) ||
    ((type === 'end' || type === 'cancel') && keys === 2)
  ) {
    return { kind: 'frame', frame: value as ClientFrameV2 };
  }
  const parsed = SCHEMAS[type as keyof typeof SCHEMAS].safeParse(value);
  if (!parsed.success) {
    const details = zodDetails(parsed.error);
    const first = details[0];
    return rejected(
      'invalid_frame',
      `invalid ${type} frame${first ? `: ${first.path || '(frame)'}: ${first.message}` : ''}`,
      details,
      { id, type: type as ClientFrameV2['type'] },
    );
  }
  return { kind: 'frame', frame: parsed.data as ClientFrameV2 };
}
