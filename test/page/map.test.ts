/**
 * The page's map without a browser: the counties cut from us-atlas at build time
 * (clients/browser/atlas.ts), the label placement (label-layout.ts) and the labels' words.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { feature, mesh } from 'topojson-client';
import { boxAround, type Box as Degrees, loadRegion, REGION_MARGIN } from '../../clients/browser/atlas.js';
import { ALL_PLACES, placeLabel } from '../../clients/browser/src/features.js';
import {
  type Box,
  type LabelRequest,
  overlaps,
  placeLabels,
} from '../../clients/browser/src/label-layout.js';

test('the region: the counties around the 100 places, named with their states, and nothing far away', async () => {
  const region = await loadRegion();
  const counties = feature(region, region.objects.counties);
  const names = counties.features.map((county) => `${county.properties.name}, ${county.properties.state}`);
  // The places' own counties, and the neighbours a zoomed-out map shows.
  for (const expected of [
    'Morris, New Jersey',
    'Sussex, New Jersey',
    'Hunterdon, New Jersey',
    'Orange, New York',
    'Sullivan, New York',
    'Kings, New York',
    'Pike, Pennsylvania',
    'Fairfield, Connecticut',
  ]) {
    assert.ok(names.includes(expected), `${expected} is in the region`);
  }
  assert.ok(!names.some((name) => name.endsWith(', California')), 'nothing from across the country');
  assert.ok(
    counties.features.length > 60 && counties.features.length < 150,
    `${counties.features.length} counties`,
  );
  // Every county is an area near the box (its arcs' extent meets it).
  const box: Degrees = boxAround(
    ALL_PLACES.map((place) => ({ latitude: place.latitude, longitude: place.longitude })),
    REGION_MARGIN,
  );
  for (const county of counties.features) {
    const { geometry } = county;
    const points =
      geometry.type === 'Polygon'
        ? geometry.coordinates.flat()
        : geometry.type === 'MultiPolygon'
          ? geometry.coordinates.flat(2)
          : assert.fail(`${county.properties.name} is a ${geometry.type}`);
    assert.ok(
      points.some(
        ([lng = 0, lat = 0]) =>
          lng >= box.west - 0.5 && lng <= box.east + 0.5 && lat >= box.south - 0.5 && lat <= box.north + 0.5,
      ),
      `${county.properties.name} is near the box`,
    );
  }
  // Lines between states: New Jersey meets New York, Pennsylvania and Delaware (in the bay).
  const stateOf = (county: { properties?: object | null | undefined }) =>
    (county.properties as { state?: string } | undefined)?.state;
  const stateLines = mesh(region, region.objects.counties, (a, b) => a !== b && stateOf(a) !== stateOf(b));
  assert.ok(stateLines.coordinates.length > 3);
  // Small enough to bundle.
  assert.ok(JSON.stringify(region).length < 60_000, `${JSON.stringify(region).length} bytes`);
});

test('a place is labelled with its town; a place without one keeps its name', () => {
  const at = (name: string) => ({ name, latitude: 0, longitude: 0 });
  assert.equal(placeLabel(at('3 Hasta Way, Newton, NJ 07860, USA')), 'Newton');
  assert.equal(placeLabel(at('Berkshire Valley Management Area Trail, Jefferson, NJ, USA')), 'Jefferson');
  assert.equal(placeLabel(at('Somewhere')), 'Somewhere');
  for (const place of ALL_PLACES.filter((p) => p.name)) {
    assert.ok(placeLabel(place).length > 0 && placeLabel(place).length < place.name.length, place.name);
  }
});

const bounds: Box = { x: 0, y: 0, width: 300, height: 200 };

test('labels go right of their point when free, then left, above, below', () => {
  const request = { id: 'a', x: 100, y: 100, gap: 5, width: 40, height: 12 };
  assert.deepEqual(placeLabels([request], [], bounds), [
    { id: 'a', box: { x: 105, y: 94, width: 40, height: 12 } },
  ]);
  // Blocked on the right: left.
  const blocker = { x: 104, y: 90, width: 60, height: 20 };
  assert.deepEqual(placeLabels([request], [blocker], bounds)[0]?.box, {
    x: 55,
    y: 94,
    width: 40,
    height: 12,
  });
  // At the right edge: left, inside the bounds.
  assert.deepEqual(placeLabels([{ ...request, x: 290 }], [], bounds)[0]?.box.x, 245);
  // Nowhere free: left out.
  assert.deepEqual(placeLabels([request], [{ x: 0, y: 0, width: 300, height: 200 }], bounds), []);
});

test('the first label wins a contested spot; a region name is centred on its point', () => {
  const placed = placeLabels(
    [
      { id: 'first', x: 100, y: 100, gap: 5, width: 40, height: 12 },
      { id: 'second', x: 100, y: 100, gap: 5, width: 40, height: 12 },
      { id: 'state', x: 200, y: 50, gap: 0, width: 60, height: 10, around: 'centre' },
    ],
    [],
    bounds,
  );
  assert.deepEqual(
    placed.map((label) => [label.id, label.box.x, label.box.y]),
    [
      ['first', 105, 94],
      ['second', 55, 94],
      ['state', 170, 45],
    ],
  );
});

test('placed labels never overlap one another or an obstacle, and stay inside (property)', () => {
  const request = fc.record({
    x: fc.integer({ min: 0, max: 300 }),
    y: fc.integer({ min: 0, max: 200 }),
    gap: fc.integer({ min: 0, max: 8 }),
    width: fc.integer({ min: 1, max: 120 }),
    height: fc.integer({ min: 1, max: 30 }),
    around: fc.constantFrom<'point' | 'centre'>('point', 'centre'),
  });
  const obstacle = fc.record({
    x: fc.integer({ min: -10, max: 300 }),
    y: fc.integer({ min: -10, max: 200 }),
    width: fc.integer({ min: 1, max: 20 }),
    height: fc.integer({ min: 1, max: 20 }),
  });
  fc.assert(
    fc.property(
      fc.array(request, { maxLength: 60 }),
      fc.array(obstacle, { maxLength: 60 }),
      (raw, obstacles) => {
        const requests: LabelRequest<number>[] = raw.map((r, id) => ({ ...r, id }));
        const placed = placeLabels(requests, obstacles, bounds);
        for (const [i, label] of placed.entries()) {
          const { box } = label;
          assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= 300 && box.y + box.height <= 200);
          assert.ok(!obstacles.some((o) => overlaps(box, o)));
          for (const other of placed.slice(i + 1)) assert.ok(!overlaps(box, other.box));
          const asked = requests[label.id]!;
          assert.equal(box.width, asked.width);
          assert.equal(box.height, asked.height);
        }
      },
    ),
    { numRuns: 300 },
  );
});
