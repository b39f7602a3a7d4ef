/** Pure geometry on E7 coordinates (degrees × 10^7, as int32). */
import type { Point__Output, Rectangle__Output } from '../proto/index.js';

const E7 = 1e7;
export const EARTH_RADIUS_M = 6_371_000;
const MAX_LATITUDE_E7 = 90 * E7;
const MAX_LONGITUDE_E7 = 180 * E7;

export interface LatLng {
  readonly latitude: number;
  readonly longitude: number;
}

/** Latitude within ±90°, longitude within ±180° (inclusive), both integers. */
export function isValidPoint({ latitude, longitude }: LatLng): boolean {
  return (
    Number.isInteger(latitude) &&
    Number.isInteger(longitude) &&
    Math.abs(latitude) <= MAX_LATITUDE_E7 &&
    Math.abs(longitude) <= MAX_LONGITUDE_E7
  );
}

/** Why a point is invalid, or undefined when it is valid. */
export function pointProblem(point: LatLng, field: string): string | undefined {
  if (!isValidPoint(point)) {
    return `${field} (${point.latitude}, ${point.longitude}) is out of range: latitude must be within ±900000000 and longitude within ±1800000000 (E7 degrees)`;
  }
  return undefined;
}

const toRadians = (e7: number): number => (e7 / E7) * (Math.PI / 180);

/** Great-circle distance in metres (haversine formula). */
export function haversineDistance(from: LatLng, to: LatLng): number {
  const lat1 = toRadians(from.latitude);
  const lat2 = toRadians(to.latitude);
  const dLat = lat2 - lat1;
  const dLng = toRadians(to.longitude) - toRadians(from.longitude);
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1) * Math.cos(lat2) * Math.sin(dLng / 2) ** 2;
  return EARTH_RADIUS_M * 2 * Math.atan2(Math.sqrt(a), Math.sqrt(1 - a));
}

/** Inclusive containment; the two corners may be given in any order. */
export function inRectangle(point: LatLng, { lo, hi }: { lo: LatLng; hi: LatLng }): boolean {
  const left = Math.min(lo.longitude, hi.longitude);
  const right = Math.max(lo.longitude, hi.longitude);
  const bottom = Math.min(lo.latitude, hi.latitude);
  const top = Math.max(lo.latitude, hi.latitude);
  return (
    point.longitude >= left && point.longitude <= right && point.latitude >= bottom && point.latitude <= top
  );
}

/** A decoded message's point, with proto3 defaults for an absent field. */
export const pointOrOrigin = (point: Point__Output | null | undefined): LatLng =>
  point ?? { latitude: 0, longitude: 0 };

export const rectangleCorners = (rect: Rectangle__Output): { lo: LatLng; hi: LatLng } => ({
  lo: pointOrOrigin(rect.lo),
  hi: pointOrOrigin(rect.hi),
});

/** A stable map key for a location. */
export const locationKey = ({ latitude, longitude }: LatLng): string => `${latitude},${longitude}`;
