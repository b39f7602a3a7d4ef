/**
 * The region's geography as GeoJSON, from the counties bundled at build time (`atlas:region`,
 * cut from us-atlas by clients/browser/atlas.ts): the land, the lines between states and between
 * counties of one state, and each state's counties (for its name on the map).
 */
import region from 'atlas:region';
import type { Feature, FeatureCollection, MultiLineString, MultiPolygon, Polygon } from 'geojson';
import { feature, mesh } from 'topojson-client';
import type { GeometryObject } from 'topojson-specification';
import type { CountyProperties } from '../atlas.js';

export type County = Feature<Polygon | MultiPolygon, CountyProperties>;

export interface Geography {
  readonly land: FeatureCollection<Polygon | MultiPolygon, CountyProperties>;
  readonly stateLines: MultiLineString;
  readonly countyLines: MultiLineString;
  /** State name → its counties in the region. */
  readonly states: ReadonlyMap<string, readonly County[]>;
}

const stateOf = (geometry: GeometryObject): string =>
  (geometry.properties as CountyProperties | undefined)?.state ?? '';

export function regionGeography(): Geography {
  const counties = region.objects.counties;
  const land = feature(region, counties) as FeatureCollection<Polygon | MultiPolygon, CountyProperties>;
  const states = new Map<string, County[]>();
  for (const county of land.features) {
    const list = states.get(county.properties.state) ?? [];
    list.push(county);
    states.set(county.properties.state, list);
  }
  return {
    land,
    // An arc between two counties (a !== b); one county's own edge (coast, or the cut's rim) is no line.
    stateLines: mesh(region, counties, (a, b) => a !== b && stateOf(a) !== stateOf(b)),
    countyLines: mesh(region, counties, (a, b) => a !== b && stateOf(a) === stateOf(b)),
    states,
  };
}
