/**
 * v1 client frame → note, end, or rejection. Pure and total: any string gives one of the three,
 * never a throw.
 */
import type { z } from 'zod';
import { capErrorDetails, type ErrorDetail } from '../common/error-details.js';
import {
  DEFAULT_FRAME_LIMITS,
  type FrameLimits,
  jsonComplexityProblem,
  parseJsonText,
} from '../common/json.js';
import { toWellFormedString } from '../common/strings.js';
import {
  type ErrorFrame,
  endFrameSchema,
  type RejectReason,
  type RouteNoteJson,
  routeNoteSchema,
} from './frames.js';

export type ParsedClientFrame =
  | { readonly kind: 'note'; readonly note: RouteNoteJson }
  | { readonly kind: 'end' }
  | { readonly kind: 'rejected'; readonly error: ErrorFrame };

/** An error frame for a rejected client frame. */
export function errorFrame(reason: RejectReason, message: string, details: ErrorDetail[] = []): ErrorFrame {
  return {
    type: 'error',
    code: reason === 'rate_limited' ? 'RESOURCE_EXHAUSTED' : 'INVALID_ARGUMENT',
    reason,
    message,
    details: capErrorDetails(details),
  };
}

export const rejection = (
  reason: RejectReason,
  message: string,
  details: ErrorDetail[] = [],
): ParsedClientFrame => ({
  kind: 'rejected',
  error: errorFrame(reason, message, details),
});

function issueDetails(error: z.ZodError): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const issue of error.issues) {
    // Keys come from the client and may hold lone surrogates: the error frame must stay well-formed.
    const base = toWellFormedString(issue.path.map(String).join('.'));
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys)
        details.push({ path: toWellFormedString(base ? `${base}.${key}` : key), message: 'unknown field' });
    } else {
      details.push({ path: base, message: issue.message });
    }
  }
  return details;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function parseClientFrame(
  text: string,
  limits: FrameLimits = DEFAULT_FRAME_LIMITS,
): ParsedClientFrame {
  const complexity = jsonComplexityProblem(text, limits);
  if (complexity) return rejection('too_complex', `frame is too complex: ${complexity}`);
  const parsed = parseJsonText(text);
  if (!parsed.ok) return rejection('invalid_json', parsed.message);
  const value = parsed.value;
  if (!isPlainObject(value)) return rejection('not_an_object', 'frame must be a JSON object');
  if ('type' in value) {
    if (value.type !== 'end') {
      return rejection(
        'invalid_frame_type',
        `unknown frame type ${JSON.stringify(value.type)}: expected "end", or a RouteNote without "type"`,
        [{ path: 'type', message: 'expected "end"' }],
      );
    }
    const end = endFrameSchema.safeParse(value);
    return end.success
      ? { kind: 'end' }
      : rejection('invalid_frame_type', 'an end frame has no other fields', issueDetails(end.error));
  }
  const note = routeNoteSchema.safeParse(value);
  if (!note.success) {
    const details = issueDetails(note.error);
    const first = details[0];
    return rejection(
      'invalid_note',
      `invalid RouteNote${first ? `: ${first.path || '(frame)'}: ${first.message}` : ''}`,
      details,
    );
  }
  return { kind: 'note', note: note.data };
}
