/**
 * Client frame → note, end, or rejection. Pure and total: any string gives one of the three, never
 * a throw. The JSON's shape is bounded before it is parsed, so a frame that is small in bytes but
 * deep or wide is refused in one linear scan instead of costing a parse and a schema walk.
 */
import secureJson from 'secure-json-parse';
import type { z } from 'zod';
import {
  capErrorDetails,
  DEFAULT_FRAME_LIMITS,
  type ErrorDetail,
  type ErrorFrame,
  endFrameSchema,
  type FrameLimits,
  type RejectReason,
  type RouteNoteJson,
  routeNoteSchema,
} from './frames.js';
import { toWellFormedString } from './strings.js';

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

const QUOTE = 34;
const BACKSLASH = 92;
const COLON = 58;
const OPEN_BRACE = 123;
const OPEN_BRACKET = 91;
const CLOSE_BRACE = 125;
const CLOSE_BRACKET = 93;
const COMMA = 44;

/**
 * JSON.parse without prototype poisoning, for v1 and v2 frames. A failure's message is for the
 * client: V8's own text can quote half of a surrogate pair (`Unexpected token '\ud800'`), so it is
 * made well-formed before it goes into an error frame.
 */
export function parseJsonText(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return {
      ok: true,
      value: secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }),
    };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    // secure-json-parse reports a poisoning attempt as a SyntaxError too; name it plainly.
    return {
      ok: false,
      message: /forbidden|prototype/i.test(why)
        ? 'frame uses a forbidden key (__proto__ or constructor.prototype)'
        : `frame is not valid JSON: ${toWellFormedString(why)}`,
    };
  }
}

/** Nesting depth, object keys + array items, and string lengths, in one pass over the text. */
export function jsonComplexityProblem(text: string, limits: FrameLimits): string | undefined {
  let depth = 0;
  let members = 0;
  let inString = false;
  let stringStart = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i += 1;
      else if (c === QUOTE) {
        inString = false;
        if (i - stringStart > limits.maxStringLength)
          return `a string is longer than ${limits.maxStringLength} characters`;
      }
      continue;
    }
    if (c === QUOTE) {
      inString = true;
      stringStart = i;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth += 1;
      if (depth > limits.maxDepth) return `nesting is deeper than ${limits.maxDepth} levels`;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth -= 1;
    else if (c === COLON || c === COMMA) {
      members += 1;
      if (members > limits.maxKeys) return `more than ${limits.maxKeys} keys or items`;
    }
  }
  return undefined;
}

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
