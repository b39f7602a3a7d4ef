/** The core's features, bundled: the named places a person can pick, and all 100 for the map. */
import db from '../../../core-server/route_guide_db.json' with { type: 'json' };
import { locationKey } from './note-groups.js';

export interface Feature {
  readonly name: string;
  readonly latitude: number;
  readonly longitude: number;
}

/** Every feature of the dataset, named or not (an unnamed one is a spot without a name). */
export const ALL_PLACES: readonly Feature[] = db.map((feature) => ({
  name: feature.name,
  ...feature.location,
}));

export const FEATURES: readonly Feature[] = ALL_PLACES.filter((feature) => feature.name !== '').sort((a, b) =>
  a.name.localeCompare(b.name),
);

const byLocation = new Map(FEATURES.map((f) => [locationKey(f.latitude, f.longitude), f]));

export const featureAt = (latitude: number, longitude: number): Feature | undefined =>
  byLocation.get(locationKey(latitude, longitude));

/** E7 integer → degrees for display. */
export const degrees = (e7: number): string => (e7 / 1e7).toFixed(5);

/** E7 integer → the degrees a person types (no trailing zeros). */
export const degreesInput = (e7: number): string => String(Number((e7 / 1e7).toFixed(7)));

/** Typed degrees → E7, or why not. */
export function parseDegrees(text: string, limit: 90 | 180): number | string {
  const trimmed = text.trim();
  if (!/^-?(\d+\.?\d*|\.\d+)$/.test(trimmed)) return `enter degrees, e.g. ${limit === 90 ? '40.7' : '-74.0'}`;
  const value = Number(trimmed);
  if (Math.abs(value) > limit) return `must be between -${limit} and ${limit} degrees`;
  return Math.round(value * 1e7);
}

export const placeName = (place: Feature): string =>
  place.name || `Unnamed spot (${degrees(place.latitude)}, ${degrees(place.longitude)})`;

/** What the map writes beside a place: its town ("…, Newton, NJ 07860, USA" → "Newton"). */
export function placeLabel(place: Feature): string {
  const parts = place.name.split(', ');
  const state = parts.findIndex((part, index) => index > 0 && /^[A-Z]{2}( \d{5})?$/.test(part));
  return (state > 0 ? parts[state - 1] : undefined) ?? placeName(place);
}
