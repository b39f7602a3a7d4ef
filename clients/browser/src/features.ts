/** The core's named features, bundled: the places a person can pick. */
import db from '../../../core-server/route_guide_db.json' with { type: 'json' };
import { locationKey } from './note-groups.js';

export interface Feature {
  readonly name: string;
  readonly latitude: number;
  readonly longitude: number;
}

export const FEATURES: readonly Feature[] = db
  .filter((feature) => feature.name !== '')
  .map((feature) => ({ name: feature.name, ...feature.location }))
  .sort((a, b) => a.name.localeCompare(b.name));

const byLocation = new Map(FEATURES.map((f) => [locationKey(f.latitude, f.longitude), f]));

export const featureAt = (latitude: number, longitude: number): Feature | undefined =>
  byLocation.get(locationKey(latitude, longitude));

/** E7 integer → degrees for display. */
export const degrees = (e7: number): string => (e7 / 1e7).toFixed(5);
