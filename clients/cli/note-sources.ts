/**
 * Where the CLI's notes come from: `--demo` (the seed scenario), repeated `--note LAT,LNG,TEXT`,
 * or JSON lines on stdin. Each source yields inputs that are either a note (not yet validated:
 * RouteChatSocket.send validates with the protocol's schema), an end marker, or a problem.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { RouteNoteInput } from '../../protocol/frames.js';
import { SEED_NOTES } from '../seed-notes.js';

export type NoteInput =
  | { readonly kind: 'note'; readonly where: string; readonly note: RouteNoteInput }
  | { readonly kind: 'end'; readonly where: string }
  | { readonly kind: 'problem'; readonly where: string; readonly message: string };

/** `--demo`: the seed's six notes. */
export const DEMO_NOTES: readonly RouteNoteInput[] = SEED_NOTES;

const INTEGER = /^\s*-?\d+\s*$/;

/** `LAT,LNG,TEXT` in E7 integers; the text may itself contain commas. */
export function parseNoteArg(value: string): RouteNoteInput | string {
  const first = value.indexOf(',');
  const second = first < 0 ? -1 : value.indexOf(',', first + 1);
  if (second < 0) return `expected LAT,LNG,TEXT, got "${value}"`;
  const latitude = value.slice(0, first);
  const longitude = value.slice(first + 1, second);
  if (!INTEGER.test(latitude) || !INTEGER.test(longitude)) {
    return `LAT and LNG must be integers in E7 units (degrees × 10^7), got "${value}"`;
  }
  return {
    location: { latitude: Number(latitude), longitude: Number(longitude) },
    message: value.slice(second + 1),
  };
}

/** JSON lines: each non-blank line a RouteNote, or `{"type":"end"}` to stop early. */
export async function* jsonLines(input: Readable): AsyncGenerator<NoteInput> {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let number = 0;
  for await (const line of lines) {
    number += 1;
    if (line.trim() === '') continue;
    const where = `stdin line ${number}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      yield { kind: 'problem', where, message: `not JSON: ${(error as Error).message}` };
      continue;
    }
    if (typeof value === 'object' && value !== null && 'type' in value && value.type === 'end') {
      yield { kind: 'end', where };
      return;
    }
    yield { kind: 'note', where, note: value as RouteNoteInput };
  }
}

export async function* fromList(notes: readonly RouteNoteInput[], label: string): AsyncGenerator<NoteInput> {
  for (const [index, note] of notes.entries()) yield { kind: 'note', where: `${label} ${index + 1}`, note };
}
