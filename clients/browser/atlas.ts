/**
 * The map's geography, cut at build time from us-atlas's counties-10m.json (US Census county
 * boundaries as quantized TopoJSON, 842 KB): only the counties whose bounding box meets the region
 * around the places, with the arcs they use, each county named with its state. The page bundles
 * the result (build.ts) and draws it offline with topojson-client and d3-geo.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { GeometryCollection, MultiPolygon, Polygon, Topology } from 'topojson-specification';

/** A box in degrees. */
export interface Box {
  readonly west: number;
  readonly south: number;
  readonly east: number;
  readonly north: number;
}

export interface CountyProperties {
  readonly name: string;
  readonly state: string;
  /** The state's postal code (NJ), for a map too crowded for its name. */
  readonly stateCode: string;
}

/** USPS codes by state FIPS code (us-atlas's state ids). */
// biome-ignore format: a table
const STATE_CODES: Readonly<Record<string, string>> = {
  '01': 'AL', '02': 'AK', '04': 'AZ', '05': 'AR', '06': 'CA', '08': 'CO', '09': 'CT', '10': 'DE',
  '11': 'DC', '12': 'FL', '13': 'GA', '15': 'HI', '16': 'ID', '17': 'IL', '18': 'IN', '19': 'IA',
  '20': 'KS', '21': 'KY', '22': 'LA', '23': 'ME', '24': 'MD', '25': 'MA', '26': 'MI', '27': 'MN',
  '28': 'MS', '29': 'MO', '30': 'MT', '31': 'NE', '32': 'NV', '33': 'NH', '34': 'NJ', '35': 'NM',
  '36': 'NY', '37': 'NC', '38': 'ND', '39': 'OH', '40': 'OK', '41': 'OR', '42': 'PA', '44': 'RI',
  '45': 'SC', '46': 'SD', '47': 'TN', '48': 'TX', '49': 'UT', '50': 'VT', '51': 'VA', '53': 'WA',
  '54': 'WV', '55': 'WI', '56': 'WY', '60': 'AS', '66': 'GU', '69': 'MP', '72': 'PR', '78': 'VI',
};

type Area = Polygon<CountyProperties> | MultiPolygon<CountyProperties>;

/** What the page imports: one object, the counties (each a Polygon or MultiPolygon). */
export type RegionTopology = Topology<{ counties: GeometryCollection<CountyProperties> }>;

/** An arc index as a geometry writes it: `~i` (negative) is arc i reversed. */
const arcIndex = (ref: number) => (ref < 0 ? ~ref : ref);

const ringsOf = (geometry: Area): number[][] =>
  geometry.type === 'Polygon' ? geometry.arcs : geometry.arcs.flat();

/**
 * The counties meeting `box`, from a quantized us-atlas topology, as a topology of their own:
 * the arcs they use (renumbered), the same transform.
 */
export function cutRegion(atlas: Topology, box: Box): RegionTopology {
  const { transform } = atlas;
  if (!transform) throw new Error('cutRegion needs a quantized topology (with a transform)');
  const counties = atlas.objects.counties;
  const states = atlas.objects.states;
  if (counties?.type !== 'GeometryCollection' || states?.type !== 'GeometryCollection') {
    throw new Error('not a us-atlas counties topology');
  }
  const nameOf = (geometry: { properties?: object | null | undefined }): string => {
    const properties: { name?: unknown } = geometry.properties ?? {};
    return typeof properties.name === 'string' ? properties.name : '';
  };
  const stateNames = new Map(states.geometries.map((state) => [String(state.id), nameOf(state)]));

  // Each arc's extent in degrees (arcs are delta-encoded after quantization).
  const [sx, sy] = transform.scale;
  const [tx, ty] = transform.translate;
  const arcBoxes = atlas.arcs.map((arc) => {
    let x = 0;
    let y = 0;
    const out = { west: Infinity, south: Infinity, east: -Infinity, north: -Infinity };
    for (const [dx = 0, dy = 0] of arc) {
      x += dx;
      y += dy;
      const lng = x * sx + tx;
      const lat = y * sy + ty;
      out.west = Math.min(out.west, lng);
      out.east = Math.max(out.east, lng);
      out.south = Math.min(out.south, lat);
      out.north = Math.max(out.north, lat);
    }
    return out;
  });
  const meets = (geometry: Area) =>
    ringsOf(geometry).some((ring) =>
      ring.some((ref) => {
        const b = arcBoxes[arcIndex(ref)];
        return (
          b !== undefined &&
          b.west <= box.east &&
          b.east >= box.west &&
          b.south <= box.north &&
          b.north >= box.south
        );
      }),
    );

  const kept: Area[] = [];
  for (const geometry of counties.geometries) {
    if (geometry.type !== 'Polygon' && geometry.type !== 'MultiPolygon') continue;
    const id = String(geometry.id ?? '');
    const area = { ...geometry, properties: { name: '', state: '', stateCode: '' } } as Area;
    if (!meets(area)) continue;
    kept.push({
      ...area,
      id,
      properties: {
        name: nameOf(geometry),
        state: stateNames.get(id.slice(0, 2)) ?? '',
        stateCode: STATE_CODES[id.slice(0, 2)] ?? '',
      },
    });
  }

  // Renumber the arcs the kept counties use, in first-use order.
  const renumbered = new Map<number, number>();
  const arcs: (typeof atlas.arcs)[number][] = [];
  const remap = (ref: number) => {
    const index = arcIndex(ref);
    let next = renumbered.get(index);
    if (next === undefined) {
      next = arcs.length;
      renumbered.set(index, next);
      arcs.push(atlas.arcs[index]!);
    }
    return ref < 0 ? ~next : next;
  };
  const geometries = kept.map(
    (area): Area =>
      area.type === 'Polygon'
        ? { ...area, arcs: area.arcs.map((ring) => ring.map(remap)) }
        : { ...area, arcs: area.arcs.map((polygon) => polygon.map((ring) => ring.map(remap))) },
  );
  return {
    type: 'Topology',
    transform,
    objects: { counties: { type: 'GeometryCollection', geometries } },
    arcs,
  };
}

/** The places' bounding box (E7 coordinates) grown by `margin` degrees on each side. */
export function boxAround(
  places: readonly { readonly latitude: number; readonly longitude: number }[],
  margin: { readonly lat: number; readonly lng: number },
): Box {
  const lats = places.map((p) => p.latitude / 1e7);
  const lngs = places.map((p) => p.longitude / 1e7);
  return {
    west: Math.min(...lngs) - margin.lng,
    east: Math.max(...lngs) + margin.lng,
    south: Math.min(...lats) - margin.lat,
    north: Math.max(...lats) + margin.lat,
  };
}

/**
 * Room around the places, in degrees: enough for the page's 4:3 map zoomed all the way out (the
 * places span 2° of latitude and 1° of longitude; a degree of longitude is 0.75 of one of latitude
 * at 41° N), with some to spare. About 29 KB of TopoJSON.
 */
export const REGION_MARGIN = { lat: 0.6, lng: 2 } as const;

/** The region the page's map draws: us-atlas's counties around the features of the core's database. */
export async function loadRegion(): Promise<RegionTopology> {
  const require = createRequire(import.meta.url);
  const atlasPath = require.resolve('us-atlas/counties-10m.json');
  const dbPath = new URL('../../core-server/route_guide_db.json', import.meta.url);
  const atlas = JSON.parse(await readFile(atlasPath, 'utf8')) as Topology;
  const db = JSON.parse(await readFile(dbPath, 'utf8')) as {
    location: { latitude: number; longitude: number };
  }[];
  return cutRegion(
    atlas,
    boxAround(
      db.map((feature) => feature.location),
      REGION_MARGIN,
    ),
  );
}
