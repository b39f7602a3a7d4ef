/**
 * Labels that do not overlap: greedy placement in priority order. Each label tries a few spots
 * around its point (right, left, above, below, then the corners) and takes the first that stays
 * inside the bounds and clear of every obstacle (the marks) and every label placed before it; a
 * label with no free spot tries its fallback (a shorter name), or is left out. Screen coordinates (CSS pixels), so a zoom lays them out
 * again at the same size. Pure: no DOM.
 */

export interface Box {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface LabelRequest<Id> {
  readonly id: Id;
  /** The point labelled (a mark's centre). */
  readonly x: number;
  readonly y: number;
  /** Clearance from the point to the label (the mark's radius and some air). */
  readonly gap: number;
  readonly width: number;
  readonly height: number;
  /** Spots to try: around the point (a place), or centred on it first (a region's name). */
  readonly around?: 'point' | 'centre';
  /** A further condition on a spot (a region's name stays over the region). */
  readonly accepts?: (box: Box) => boolean;
  /** Tried when this label finds no spot (a shorter name). */
  readonly fallback?: LabelRequest<Id>;
}

export interface PlacedLabel<Id> {
  readonly id: Id;
  /** The label's box, top left. */
  readonly box: Box;
}

export const overlaps = (a: Box, b: Box): boolean =>
  a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

const inside = (box: Box, bounds: Box): boolean =>
  box.x >= bounds.x &&
  box.y >= bounds.y &&
  box.x + box.width <= bounds.x + bounds.width &&
  box.y + box.height <= bounds.y + bounds.height;

/** The spots a label tries, best first. */
function candidates<Id>(request: LabelRequest<Id>): Box[] {
  const { x, y, gap, width: w, height: h } = request;
  const box = (left: number, top: number): Box => ({ x: left, y: top, width: w, height: h });
  if (request.around === 'centre') {
    // Centred on the point first, then further out, nearest first: a region's name may sit
    // anywhere over it (up to two widths aside, eight lines up or down).
    const offsets: [number, number][] = [];
    for (let dy = -8; dy <= 8; dy += 0.5) {
      for (let dx = -2; dx <= 2; dx += 0.25) offsets.push([dx, dy]);
    }
    offsets.sort(([ax, ay], [bx, by]) => Math.hypot(ax * w, ay * h) - Math.hypot(bx * w, by * h));
    return offsets.map(([dx, dy]) => box(x - w / 2 + dx * w, y - h / 2 + dy * h));
  }
  const diagonal = gap * Math.SQRT1_2;
  return [
    box(x + gap, y - h / 2), // right
    box(x - gap - w, y - h / 2), // left
    box(x - w / 2, y - gap - h), // above
    box(x - w / 2, y + gap), // below
    box(x + diagonal, y - diagonal - h), // above right
    box(x + diagonal, y + diagonal), // below right
    box(x - diagonal - w, y - diagonal - h), // above left
    box(x - diagonal - w, y + diagonal), // below left
  ];
}

/**
 * Places the labels in the order given (the most important first); returns those placed. No two
 * returned boxes overlap, none overlaps an obstacle, all lie within `bounds`.
 */
export function placeLabels<Id>(
  requests: readonly LabelRequest<Id>[],
  obstacles: readonly Box[],
  bounds: Box,
): PlacedLabel<Id>[] {
  const placed: PlacedLabel<Id>[] = [];
  const taken: Box[] = [...obstacles];
  for (const first of requests) {
    for (let request: LabelRequest<Id> | undefined = first; request; request = request.fallback) {
      const { accepts } = request;
      const spot = candidates(request).find(
        (box) =>
          inside(box, bounds) && !taken.some((other) => overlaps(box, other)) && (accepts?.(box) ?? true),
      );
      if (!spot) continue;
      placed.push({ id: request.id, box: spot });
      taken.push(spot);
      break;
    }
  }
  return placed;
}
