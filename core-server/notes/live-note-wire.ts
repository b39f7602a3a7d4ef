/**
 * Live notes on Redis, as both ends see them: the channel, and a stored note as published on it,
 * `[latitude, longitude, message]` as JSON. Encoded for the Redis store's append script (which
 * publishes, so notes go out in the order the store assigned them) and decoded by the note bus's
 * subscriber, which checks it like any input.
 */
import type { StoredNote } from './note-store.js';

/** One channel per key prefix: cores share live notes exactly when they share notes. */
export const liveNotesChannel = (keyPrefix: string): string => `${keyPrefix}notes`;

export const encodeLiveNote = (note: StoredNote): string =>
  JSON.stringify([note.location.latitude, note.location.longitude, note.message]);

export function decodeLiveNote(payload: string): StoredNote | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length !== 3) return undefined;
  const [latitude, longitude, message] = value as unknown[];
  if (!Number.isInteger(latitude) || !Number.isInteger(longitude) || typeof message !== 'string')
    return undefined;
  return { location: { latitude: latitude as number, longitude: longitude as number }, message };
}
