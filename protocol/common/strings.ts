/**
 * The one string type of the wire contract. A JSON string may hold a lone surrogate (`"\ud800"`):
 * valid JSON, but not Unicode text. Protobuf `string` fields must be valid UTF-8, so such a string
 * either gets mangled on the way (grpc-js writes U+FFFD for it: the note silently changes) or is
 * refused by a stricter server (grpc-go fails the whole stream with INTERNAL). Refusing it here,
 * field by field, turns it into an error frame for that one frame instead.
 */
import { z } from 'zod';

type IsWellFormed = (this: string) => boolean;
const nativeIsWellFormed = (String.prototype as { isWellFormed?: IsWellFormed }).isWellFormed;
/** Under the `u` flag, `\p{Cs}` matches only a surrogate that is not half of a pair. */
const LONE_SURROGATE = /\p{Cs}/u;

/** true when the string is well-formed UTF-16, i.e. encodes to UTF-8 without loss. */
export const isWellFormedString: (value: string) => boolean = nativeIsWellFormed
  ? (value) => nativeIsWellFormed.call(value)
  : (value) => !LONE_SURROGATE.test(value);

type ToWellFormed = (this: string) => string;
const nativeToWellFormed = (String.prototype as { toWellFormed?: ToWellFormed }).toWellFormed;
const LONE_SURROGATES = /\p{Cs}/gu;

/** The string with every lone surrogate replaced by U+FFFD, for echoing client text back safely. */
export const toWellFormedString: (value: string) => string = nativeToWellFormed
  ? (value) => nativeToWellFormed.call(value)
  : (value) => value.replace(LONE_SURROGATES, '\uFFFD');

export const NOT_WELL_FORMED_MESSAGE =
  'must be well-formed Unicode (a lone surrogate cannot be sent as UTF-8)';

/** A string that is well-formed Unicode: every string field of every frame uses it. */
export const wellFormedString = () =>
  z.string().refine(isWellFormedString, { error: NOT_WELL_FORMED_MESSAGE, abort: true });
