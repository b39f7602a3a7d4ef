/**
 * Where the CLI's notes come from: `--demo` (the seed scenario), repeated `--note LAT,LNG,TEXT`,
 * or JSON lines on stdin. Each source yields inputs that are either a note (not yet validated:
 * RouteChatSocket.send validates with the protocol's schema), an end marker, or a problem.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { RouteNoteInput } from '../../protocol/v1/frames.js';
import { SEED_NOTES } from '../seed-notes.js';

export type NoteInput =
  | { readonly kind: 'note'; readonly where: string; readonly note: RouteNoteInput }
  | { readonly kind: 'end'; readonly where: string }
  | { readonly kind: 'problem'; readonly where: string; readonly message: string };

/** `--demo`: the seed's six notes. */
export const DEMO_NOTES: readonly RouteNoteInput[] = SEED_NOTES;

const INTEGER = /^\s*-?\d+\s*$/;
const DECIMAL = /^\s*-?\d*\.\d+\s*$|^\s*-?\d+\.\d*\s*$/;

/** A coordinate in degrees (it has a decimal point) or in E7 (an integer), as E7; or a problem. */
export function parseCoordinate(text: string, limitDegrees: 90 | 180): number | string {
  if (INTEGER.test(text)) return Number(text);
  if (!DECIMAL.test(text)) return `"${text.trim()}" is neither degrees (40.7) nor E7 (407000000)`;
  const degrees = Number(text);
  if (Math.abs(degrees) > limitDegrees) return `${text.trim()}° is out of range (±${limitDegrees})`;
  return Math.round(degrees * 1e7);
}

/**
 * `LAT,LNG,TEXT`; the text may itself contain commas. A coordinate with a decimal point is in
 * degrees (`40.7,-74.0`), an integer is in E7 (`407000000,-740000000`), like the wire format.
 */
export function parseNoteArg(value: string): RouteNoteInput | string {
  const first = value.indexOf(',');
  const second = first < 0 ? -1 : value.indexOf(',', first + 1);
  if (second < 0) return `expected LAT,LNG,TEXT, got "${value}"`;
  const latitude = parseCoordinate(value.slice(0, first), 90);
  const longitude = parseCoordinate(value.slice(first + 1, second), 180);
  for (const coordinate of [latitude, longitude]) {
    if (typeof coordinate === 'string') {
      return `LAT and LNG are degrees (with a decimal point) or E7 integers (degrees × 10^7): ${coordinate}`;
    }
  }
  return {
    location: { latitude: latitude as number, longitude: longitude as number },
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
