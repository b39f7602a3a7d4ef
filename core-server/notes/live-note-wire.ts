/**
 * A stored note as published for live notes on Redis: `[latitude, longitude, message]` as JSON.
 * Written by the Redis store's append script (so notes are published in the order the store
 * assigned them) and read by the feed's Redis bus, which checks it like any input.
 */
import type { StoredNote } from './note-store.js';

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
