/**
 * Which registered rectangles contain a point, without looking at every rectangle.
 *
 * A few grid levels of square cells on E7 coordinates (fine to coarse). Each rectangle goes into the
 * finest level where it covers at most `maxCellsPerEntry` cells, and is listed in each of those
 * cells; a rectangle too big even for the coarsest level goes into a scan list. A point lies in
 * exactly one cell per level, so a lookup reads one cell per level plus the scan list, and every
 * rectangle is seen at most once. The rectangles read but not matched are those that touch the
 * point's cell without containing the point: few when the cells are small next to the rectangles
 * placed at their level, which is what choosing the finest level that fits does.
 */
import { inRectangle, type LatLng } from '../geo.js';

export interface Corners {
  readonly lo: LatLng;
  readonly hi: LatLng;
}

export interface RectangleIndexOptions {
  /** Cell sizes in E7 units, finest first. */
  readonly cellSizesE7: readonly number[];
  /** Most cells one rectangle may be listed in; bigger rectangles go one level up, then to the scan list. */
  readonly maxCellsPerEntry: number;
}

/** 0.1° cells (≈11 km) for city-sized regions, 10° cells for countries; up to 256 cells per region. */
export const DEFAULT_RECTANGLE_INDEX_OPTIONS: RectangleIndexOptions = {
  cellSizesE7: [1_000_000, 100_000_000],
  maxCellsPerEntry: 256,
};

export interface RectangleIndex<T> {
  /** Registers `value` for `corners` (inclusive; corners in any order). A value is registered once. */
  add(value: T, corners: Corners): void;
  /** Unregisters `value`; does nothing if it is not registered. */
  remove(value: T): void;
  /** Calls `visit` once for every registered value whose rectangle contains `point`. `visit` may remove values. */
  forEachContaining(point: LatLng, visit: (value: T) => void): void;
  readonly size: number;
  /** How entries are placed (for metrics and tests): per level, then the scan list. */
  placement(): { readonly perLevel: readonly number[]; readonly scanned: number };
}

interface Entry {
  readonly corners: Corners;
  /** Cell keys at `level`, or undefined when in the scan list. */
  readonly keys: readonly string[] | undefined;
  readonly level: number;
}

interface Bounds {
  readonly left: number;
  readonly right: number;
  readonly bottom: number;
  readonly top: number;
}

const boundsOf = ({ lo, hi }: Corners): Bounds => ({
  left: Math.min(lo.longitude, hi.longitude),
  right: Math.max(lo.longitude, hi.longitude),
  bottom: Math.min(lo.latitude, hi.latitude),
  top: Math.max(lo.latitude, hi.latitude),
});

const cellKey = (level: number, latCell: number, lngCell: number): string => `${level}:${latCell}:${lngCell}`;

export function createRectangleIndex<T>(
  options: RectangleIndexOptions = DEFAULT_RECTANGLE_INDEX_OPTIONS,
): RectangleIndex<T> {
  const { cellSizesE7, maxCellsPerEntry } = options;
  if (!cellSizesE7.every((size) => Number.isInteger(size) && size > 0)) {
    throw new RangeError('cell sizes must be positive integers');
  }
  const entries = new Map<T, Entry>();
  const cells = new Map<string, Set<T>>();
  const scanList = new Set<T>();
  const perLevel = cellSizesE7.map(() => 0);

  const keysFor = (bounds: Bounds): { level: number; keys: string[] } | undefined => {
    for (const [level, size] of cellSizesE7.entries()) {
      const lat0 = Math.floor(bounds.bottom / size);
      const lat1 = Math.floor(bounds.top / size);
      const lng0 = Math.floor(bounds.left / size);
      const lng1 = Math.floor(bounds.right / size);
      if ((lat1 - lat0 + 1) * (lng1 - lng0 + 1) > maxCellsPerEntry) continue;
      const keys: string[] = [];
      for (let lat = lat0; lat <= lat1; lat += 1) {
        for (let lng = lng0; lng <= lng1; lng += 1) keys.push(cellKey(level, lat, lng));
      }
      return { level, keys };
    }
    return undefined;
  };

  return {
    add(value, corners) {
      if (entries.has(value)) throw new Error('value already registered');
      const placed = keysFor(boundsOf(corners));
      if (!placed) {
        scanList.add(value);
        entries.set(value, { corners, keys: undefined, level: -1 });
        return;
      }
      for (const key of placed.keys) {
        let cell = cells.get(key);
        if (!cell) {
          cell = new Set();
          cells.set(key, cell);
        }
        cell.add(value);
      }
      perLevel[placed.level] = (perLevel[placed.level] ?? 0) + 1;
      entries.set(value, { corners, keys: placed.keys, level: placed.level });
    },

    remove(value) {
      const entry = entries.get(value);
      if (!entry) return;
      entries.delete(value);
      if (!entry.keys) {
        scanList.delete(value);
        return;
      }
      perLevel[entry.level] = (perLevel[entry.level] ?? 1) - 1;
      for (const key of entry.keys) {
        const cell = cells.get(key);
        if (!cell) continue;
        cell.delete(value);
        if (cell.size === 0) cells.delete(key);
      }
    },

    forEachContaining(point, visit) {
      const check = (value: T) => {
        const entry = entries.get(value);
        // Absent when an earlier visit removed it: deleting from a Set while iterating is safe.
        if (entry && inRectangle(point, entry.corners)) visit(value);
      };
      for (const [level, size] of cellSizesE7.entries()) {
        const cell = cells.get(
          cellKey(level, Math.floor(point.latitude / size), Math.floor(point.longitude / size)),
        );
        if (cell) for (const value of cell) check(value);
      }
      for (const value of scanList) check(value);
    },

    get size() {
      return entries.size;
    },

    placement: () => ({ perLevel: [...perLevel], scanned: scanList.size }),
  };
}
