/** The rectangle index of live-notes watchers: same answers as a scan of every rectangle. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type Corners,
  createRectangleIndex,
  DEFAULT_RECTANGLE_INDEX_OPTIONS,
  type RectangleIndexOptions,
} from '../../core-server/feed/rectangle-index.js';
import { inRectangle, type LatLng } from '../../core-server/geo.js';

const LAT = 900_000_000;
const LNG = 1_800_000_000;

// Coordinates that hit cell edges often: small multiples of the test cell sizes, the poles and the
// antimeridian, and anything else.
const coordinate = (max: number) =>
  fc.oneof(
    fc.integer({ min: -max, max }),
    fc.integer({ min: -40, max: 40 }).map((n) => n * 25),
    fc.integer({ min: -40, max: 40 }),
    fc.constantFrom(-max, max, 0, -1, 1),
  );
const point: fc.Arbitrary<LatLng> = fc.record({ latitude: coordinate(LAT), longitude: coordinate(LNG) });
const corners: fc.Arbitrary<Corners> = fc.record({ lo: point, hi: point });

type Op = { kind: 'add'; id: number; corners: Corners } | { kind: 'remove'; id: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('add' as const), id: fc.nat(30), corners }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), id: fc.nat(30) }) },
);

const options: fc.Arbitrary<RectangleIndexOptions> = fc.oneof(
  fc.constant(DEFAULT_RECTANGLE_INDEX_OPTIONS),
  fc.record({
    cellSizesE7: fc.constantFrom([25], [7, 300], [25, 1000, 100_000_000], [1]),
    maxCellsPerEntry: fc.integer({ min: 1, max: 64 }),
  }),
);

describe('rectangle index', () => {
  test('finds exactly the rectangles a scan finds, for any sequence of adds and removes (fast-check)', () => {
    fc.assert(
      fc.property(
        options,
        fc.array(op, { maxLength: 40 }),
        fc.array(point, { maxLength: 20 }),
        (opts, ops, points) => {
          const index = createRectangleIndex<number>(opts);
          const reference = new Map<number, Corners>();
          for (const step of ops) {
            if (step.kind === 'add') {
              if (reference.has(step.id)) continue;
              index.add(step.id, step.corners);
              reference.set(step.id, step.corners);
            } else {
              index.remove(step.id);
              reference.delete(step.id);
            }
          }
          assert.equal(index.size, reference.size);
          // Also probe every corner: inclusive edges are where an off-by-one would hide.
          const probes = [...points, ...[...reference.values()].flatMap((c) => [c.lo, c.hi])];
          for (const probe of probes) {
            const found: number[] = [];
            index.forEachContaining(probe, (id) => found.push(id));
            const expected = [...reference]
              .filter(([, rect]) => inRectangle(probe, rect))
              .map(([id]) => id)
              .sort((a, b) => a - b);
            assert.deepEqual(
              found.sort((a, b) => a - b),
              expected,
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a visit may remove the values it is given, and the others are still visited once', () => {
    const index = createRectangleIndex<string>({ cellSizesE7: [10], maxCellsPerEntry: 4 });
    const all = { lo: { latitude: -5, longitude: -5 }, hi: { latitude: 5, longitude: 5 } };
    for (const id of ['a', 'b', 'c', 'd']) index.add(id, all);
    index.add('huge', { lo: { latitude: -LAT, longitude: -LNG }, hi: { latitude: LAT, longitude: LNG } });
    const seen: string[] = [];
    index.forEachContaining({ latitude: 0, longitude: 0 }, (id) => {
      seen.push(id);
      index.remove(id);
    });
    assert.deepEqual(seen.sort(), ['a', 'b', 'c', 'd', 'huge']);
    assert.equal(index.size, 0);
    assert.deepEqual(index.placement(), { perLevel: [0], scanned: 0 });
  });

  test('places a city in fine cells, a country in coarse cells and the whole world in the scan list', () => {
    const index = createRectangleIndex<string>();
    const box = (lat: number, lng: number, halfDegrees: number): Corners => ({
      lo: { latitude: lat - halfDegrees * 1e7, longitude: lng - halfDegrees * 1e7 },
      hi: { latitude: lat + halfDegrees * 1e7, longitude: lng + halfDegrees * 1e7 },
    });
    index.add('city', box(407_000_000, -740_000_000, 0.1));
    index.add('country', box(400_000_000, -1_000_000_000, 10));
    index.add('world', { lo: { latitude: -LAT, longitude: -LNG }, hi: { latitude: LAT, longitude: LNG } });
    assert.deepEqual(index.placement(), { perLevel: [1, 1], scanned: 1 });
    const seen: string[] = [];
    index.forEachContaining({ latitude: 407_000_000, longitude: -740_000_000 }, (id) => seen.push(id));
    assert.deepEqual(seen.sort(), ['city', 'world']);
  });

  test('refuses to register the same value twice', () => {
    const index = createRectangleIndex<string>();
    const rect = { lo: { latitude: 0, longitude: 0 }, hi: { latitude: 1, longitude: 1 } };
    index.add('a', rect);
    assert.throws(() => index.add('a', rect), /already registered/);
  });
});
