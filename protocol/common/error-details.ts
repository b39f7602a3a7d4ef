/** The details of an error frame (v1 and v2): their schema and the caps that keep an answer small. */
import { z } from 'zod';
import { toWellFormedString, wellFormedString } from './strings.js';

export const errorDetailSchema = z.strictObject({ path: wellFormedString(), message: wellFormedString() });

/**
 * An error frame lists at most this many details (the rest are counted in a last one), each path and
 * message at most MAX_ERROR_DETAIL_LENGTH characters: a frame of a few KiB can name thousands of bad
 * keys, and the answer must never be bigger than the question.
 */
export const MAX_ERROR_DETAILS = 16;
export const MAX_ERROR_DETAIL_LENGTH = 200;

/** Cut to the cap; a surrogate pair cut in half becomes U+FFFD, so the text stays well-formed. */
export const clipDetailText = (text: string): string =>
  text.length <= MAX_ERROR_DETAIL_LENGTH
    ? text
    : `${toWellFormedString(text.slice(0, MAX_ERROR_DETAIL_LENGTH - 1))}…`;

/** `details` within the caps above: the first ones, clipped, and one saying how many were left out. */
export function capErrorDetails(details: readonly ErrorDetail[]): ErrorDetail[] {
  const shown = details.length > MAX_ERROR_DETAILS ? details.slice(0, MAX_ERROR_DETAILS - 1) : details;
  const capped = shown.map((detail) =>
    detail.path.length <= MAX_ERROR_DETAIL_LENGTH && detail.message.length <= MAX_ERROR_DETAIL_LENGTH
      ? detail
      : { path: clipDetailText(detail.path), message: clipDetailText(detail.message) },
  );
  if (details.length > shown.length)
    capped.push({ path: '', message: `${details.length - shown.length} more problems not listed` });
  return capped;
}

export type ErrorDetail = z.output<typeof errorDetailSchema>;
