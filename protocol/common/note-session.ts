/**
 * Idempotent RouteChat notes: the two metadata keys a producer opens the stream with, and the pure
 * rule that checks them. The core numbers the stream's notes from `note-sequence`, in order, and
 * its store remembers each (session, sequence) it stored, so a note resent after a reconnect is
 * answered as stored instead of being stored twice (as Kafka's idempotent producer does).
 *
 * The same rule runs in the core (the authority, for any gRPC client) and in the gateway (v1 reads
 * the two values from the upgrade URL's query, and must not hand the core a value that is not even
 * legal gRPC metadata). No Node imports: the client library and the page use it too.
 */

/** The producer session: one id per producer, kept across its reconnects. */
export const NOTE_SESSION_KEY = 'note-session';
/** The sequence number of the stream's first note; the next ones follow, one by one. */
export const NOTE_SEQUENCE_KEY = 'note-sequence';

export const MIN_NOTE_SESSION_LENGTH = 8;
export const MAX_NOTE_SESSION_LENGTH = 64;
/**
 * Letters, digits, `-` and `_` (a UUID, or 16+ random bytes in base64url), 8 to 64 of them: short
 * ids are refused because two producers that picked the same one would swallow each other's notes.
 */
export const NOTE_SESSION_PATTERN = `^[A-Za-z0-9_-]{${MIN_NOTE_SESSION_LENGTH},${MAX_NOTE_SESSION_LENGTH}}$`;
/** Decimal, no sign, no leading zero, at most 16 digits (then checked against 2^53 - 1). */
export const NOTE_SEQUENCE_PATTERN = '^(?:0|[1-9][0-9]{0,15})$';
const SESSION = new RegExp(NOTE_SESSION_PATTERN);
const SEQUENCE = new RegExp(NOTE_SEQUENCE_PATTERN);

/** Where a stream's notes start: note i of the stream (from 0) has sequence `firstSequence + i`. */
export interface NoteSession {
  readonly session: string;
  readonly firstSequence: number;
}

export type NoteSessionResult =
  | { readonly ok: true; readonly value: NoteSession | undefined }
  | { readonly ok: false; readonly message: string };

const problem = (message: string): NoteSessionResult => ({ ok: false, message });

/** One value of a key given 0, 1 or more times (gRPC metadata and query strings may repeat a key). */
function single(key: string, values: readonly string[]): { value?: string; message?: string } {
  if (values.length > 1) return { message: `${key} given ${values.length} times: give it once` };
  return values.length === 1 ? { value: values[0] as string } : {};
}

/**
 * Reads the two keys as given (every value of each). Neither: `value` undefined, the stream is
 * at-most-once as before. Both, well-formed: the session. Anything else: the message for an
 * INVALID_ARGUMENT status (never echoing more than a short prefix of a bad value).
 */
export function parseNoteSession(
  sessionValues: readonly string[],
  sequenceValues: readonly string[],
): NoteSessionResult {
  const session = single(NOTE_SESSION_KEY, sessionValues);
  if (session.message) return problem(session.message);
  const sequence = single(NOTE_SEQUENCE_KEY, sequenceValues);
  if (sequence.message) return problem(sequence.message);
  if (session.value === undefined && sequence.value === undefined) return { ok: true, value: undefined };
  if (session.value === undefined) return problem(`${NOTE_SEQUENCE_KEY} needs ${NOTE_SESSION_KEY}`);
  if (sequence.value === undefined) return problem(`${NOTE_SESSION_KEY} needs ${NOTE_SEQUENCE_KEY}`);
  if (!SESSION.test(session.value))
    return problem(
      `${NOTE_SESSION_KEY} must be ${MIN_NOTE_SESSION_LENGTH} to ${MAX_NOTE_SESSION_LENGTH} characters of A-Z, a-z, 0-9, - and _`,
    );
  const first = SEQUENCE.test(sequence.value) ? Number(sequence.value) : Number.NaN;
  if (!Number.isSafeInteger(first))
    return problem(
      `${NOTE_SEQUENCE_KEY} must be a decimal integer from 0 to ${Number.MAX_SAFE_INTEGER} (no sign, no leading zero)`,
    );
  return { ok: true, value: { session: session.value, firstSequence: first } };
}
