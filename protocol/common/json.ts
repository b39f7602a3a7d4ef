/**
 * Reading a client frame's JSON, for v1 and v2: its shape is bounded before it is parsed, so a frame
 * that is small in bytes but deep or wide is refused in one linear scan, and the parse itself cannot
 * poison a prototype.
 */
import secureJson from 'secure-json-parse';
import { toWellFormedString } from './strings.js';

/** Bounds on a client frame's JSON, checked before it is parsed (see jsonComplexityProblem below). */
export interface FrameLimits {
  readonly maxDepth: number;
  readonly maxKeys: number;
  readonly maxStringLength: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = { maxDepth: 8, maxKeys: 64, maxStringLength: 65_536 };

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
