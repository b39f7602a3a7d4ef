import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { haversineDistance, inRectangle, isValidPoint, locationKey } from '../../core-server/geo.js';

describe('geo', () => {
  test('haversine distance between two known features matches the canonical examples', () => {
    // Go's official client prints distances from the same formula; one degree of latitude ≈ 111195 m.
    const oneDegree = haversineDistance(
      { latitude: 0, longitude: 0 },
      { latitude: 10_000_000, longitude: 0 },
    );
    assert.equal(Math.round(oneDegree), 111195);
    const d = haversineDistance(
      { latitude: 409146138, longitude: -746188906 },
      { latitude: 407838351, longitude: -746143763 },
    );
    assert.ok(Math.abs(d - 14_549) < 5, `got ${d}`);
  });

  test('distance from a point to itself is zero', () => {
    assert.equal(haversineDistance({ latitude: 1, longitude: 2 }, { latitude: 1, longitude: 2 }), 0);
  });

  test('rectangle containment is inclusive and corner order does not matter', () => {
    const lo = { latitude: 0, longitude: 0 };
    const hi = { latitude: 10, longitude: 10 };
    for (const rect of [
      { lo, hi },
      { lo: hi, hi: lo },
      { lo: { latitude: 0, longitude: 10 }, hi: { latitude: 10, longitude: 0 } },
    ]) {
      assert.ok(inRectangle({ latitude: 0, longitude: 0 }, rect));
      assert.ok(inRectangle({ latitude: 10, longitude: 10 }, rect));
      assert.ok(inRectangle({ latitude: 5, longitude: 5 }, rect));
      assert.ok(!inRectangle({ latitude: 11, longitude: 5 }, rect));
      assert.ok(!inRectangle({ latitude: 5, longitude: -1 }, rect));
    }
  });

  test('points outside ±90° latitude or ±180° longitude are invalid', () => {
    assert.ok(isValidPoint({ latitude: 900_000_000, longitude: -1_800_000_000 }));
    assert.ok(!isValidPoint({ latitude: 900_000_001, longitude: 0 }));
    assert.ok(!isValidPoint({ latitude: 0, longitude: 1_800_000_001 }));
  });

  test('location keys tell locations apart', () => {
    assert.notEqual(locationKey({ latitude: 1, longitude: 23 }), locationKey({ latitude: 12, longitude: 3 }));
  });
});
