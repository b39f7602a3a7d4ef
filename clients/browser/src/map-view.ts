/**
 * The map: the region's land, state and county lines (geography.ts: us-atlas, bundled), projected
 * with d3-geo, and the 100 places of the dataset on top; places with notes are marked. Names sit
 * beside their places without overlapping one another or the marks (label-layout.ts): as many as
 * fit, more as you zoom in (d3-zoom: wheel, drag, pinch, double-click, or the page's buttons and
 * + / − / 0 on a focused place). A place is labelled with its town; the hovered or focused place
 * gets its full name, placed first.
 *
 * Marks and labels are drawn in screen pixels (the viewBox follows the element's size), so they
 * keep their size at any zoom; only the geography is scaled. One tab stop (roving tabindex):
 * arrow keys move between places west to east (the view follows), Enter or Space picks.
 * Attributes only, no inline styles (the page's CSP).
 */
import { type GeoProjection, geoContains, geoPath, geoTransverseMercator } from 'd3-geo';
import { select } from 'd3-selection';
import { type D3ZoomEvent, type ZoomTransform, zoom, zoomIdentity } from 'd3-zoom';
import { type Feature, placeLabel, placeName } from './features.js';
import type { Geography } from './geography.js';
import { type Box, type LabelRequest, placeLabels } from './label-layout.js';
import { locationKey } from './note-groups.js';

const SVG = 'http://www.w3.org/2000/svg';

export interface MapView {
  select(place: Feature | undefined): void;
  /** Marks the places that have notes (location keys). */
  markNotes(keys: ReadonlySet<string>): void;
  /** Zooms by `factor` about the centre (2: in, 0.5: out). */
  zoomBy(factor: number): void;
  resetZoom(): void;
}

/** Every kind of mark the map draws, with the words its legend uses (map-legend.ts). */
export const MARKS = [
  { kind: 'named', label: 'Named place', shape: 'dot' },
  { kind: 'unnamed', label: 'Unnamed spot', shape: 'dot' },
  { kind: 'has-notes', label: 'Place with notes', shape: 'dot' },
  { kind: 'selected', label: 'Picked place', shape: 'dot' },
  { kind: 'state-line', label: 'State line', shape: 'line' },
  { kind: 'county-line', label: 'County line', shape: 'line' },
  { kind: 'land', label: 'Land', shape: 'area' },
  { kind: 'water', label: 'Water', shape: 'area' },
] as const;

export type MarkKind = (typeof MARKS)[number]['kind'];
export type DotKind = Extract<MarkKind, 'named' | 'unnamed' | 'has-notes' | 'selected'>;

/** A dot's radius in CSS pixels: the picked place largest, an unnamed spot smallest. */
export function dotRadius(kinds: ReadonlySet<DotKind>): number {
  if (kinds.has('selected')) return 6.5;
  if (kinds.has('has-notes')) return 5.5;
  return kinds.has('unnamed') ? 3 : 4.5;
}

/** Room kept between the places and the map's edge at zoom 1, in CSS pixels. */
const FIT_PADDING = 16;
const MAX_ZOOM = 16;

interface Measured {
  readonly width: number;
  readonly height: number;
  /** The text's box relative to its anchor point (x, y = 0): where to put it so the box lands. */
  readonly left: number;
  readonly top: number;
}

type LabelId = { readonly place: number } | { readonly state: string; readonly short: boolean };

export interface MapOptions {
  readonly places: readonly Feature[];
  readonly geography: Geography;
  readonly onPick: (place: Feature) => void;
  /** Elements drawn over the map (its zoom buttons): labels keep clear of them. */
  readonly overlays?: readonly Element[];
}

export function renderMap(svg: SVGSVGElement, options: MapOptions): MapView {
  const { places, geography, onPick, overlays = [] } = options;
  const doc = svg.ownerDocument;
  const make = <K extends keyof SVGElementTagNameMap>(
    tag: K,
    attributes: Record<string, string>,
  ): SVGElementTagNameMap[K] => {
    const element = doc.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    return element;
  };

  // Layers, bottom to top: water, geography (scaled by the zoom), dots, labels.
  const water = make('rect', { class: 'water', 'data-mark': 'water', x: '0', y: '0' });
  const geo = make('g', { class: 'geography', 'aria-hidden': 'true' });
  const land = make('path', { class: 'land', 'data-mark': 'land' });
  const countyLines = make('path', { class: 'county-line', 'data-mark': 'county-line' });
  const stateLines = make('path', { class: 'state-line', 'data-mark': 'state-line' });
  geo.append(land, countyLines, stateLines);
  const dotLayer = make('g', { class: 'dots' });
  const labelLayer = make('g', { class: 'labels', 'aria-hidden': 'true' });
  svg.append(water, geo, dotLayer, labelLayer);

  // West to east: the order the arrow keys follow.
  const order = places
    .map((place, index) => ({ place, index }))
    .sort((a, b) => a.place.longitude - b.place.longitude);
  const dots: SVGCircleElement[] = [];
  const placeLabelTexts: SVGTextElement[] = [];
  let selected: number | undefined;
  /** The place under the pointer, or focused: named before any other. */
  let hot: number | undefined;
  let focused: number | undefined;
  let withNotes: ReadonlySet<string> = new Set();

  const kindsOf = (index: number): Set<DotKind> => {
    const place = places[index]!;
    const kinds = new Set<DotKind>([place.name ? 'named' : 'unnamed']);
    if (withNotes.has(locationKey(place.latitude, place.longitude))) kinds.add('has-notes');
    if (index === selected) kinds.add('selected');
    return kinds;
  };

  // Size, projection and zoom.
  let width = 0;
  let height = 0;
  let projected: (readonly [number, number])[] = [];
  let transform: ZoomTransform = zoomIdentity;
  const projection: GeoProjection = geoTransverseMercator().rotate([74.5, 0]); // New Jersey's meridian
  const placesShape = {
    type: 'MultiPoint' as const,
    coordinates: places.map((p) => [p.longitude / 1e7, p.latitude / 1e7]),
  };
  const zoomer = zoom<SVGSVGElement, unknown>()
    .scaleExtent([1, MAX_ZOOM])
    .on('zoom', (event: D3ZoomEvent<SVGSVGElement, unknown>) => {
      transform = event.transform;
      draw();
    });
  const view = select(svg);
  view.call(zoomer);
  const screen = (index: number): [number, number] => {
    const [x, y] = projected[index] ?? [0, 0];
    return [transform.applyX(x), transform.applyY(y)];
  };
  const onScreen = (index: number) => {
    const [x, y] = screen(index);
    return x >= 0 && y >= 0 && x <= width && y <= height;
  };
  /** Pans (never zooms) so that the place is in view. */
  const reveal = (index: number) => {
    if (width === 0 || onScreen(index)) return;
    const [x, y] = projected[index] ?? [0, 0];
    zoomer.translateTo(view, x, y);
  };

  // Labels: measured once each (in place, while shown), then placed on every draw.
  const measured = new Map<SVGTextElement, Measured>();
  const measure = (text: SVGTextElement): Measured | undefined => {
    const known = measured.get(text);
    if (known) return known;
    text.removeAttribute('display');
    text.setAttribute('x', '0');
    text.setAttribute('y', '0');
    const box = text.getBBox();
    if (box.width === 0) return undefined; // not rendered yet (a closed <details>)
    const size = { width: box.width + 2, height: box.height, left: box.x - 1, top: box.y };
    measured.set(text, size);
    return size;
  };
  const hotLabel = make('text', { class: 'place-label hot', display: 'none' });
  const stateNames = [...geography.states.keys()].sort();
  /** Each state's name, and its postal code for when the name does not fit. */
  const stateTexts = new Map(
    stateNames.map((name) => {
      const full = make('text', { class: 'state-label', display: 'none' });
      full.textContent = name.toUpperCase();
      const short = make('text', { class: 'state-label', display: 'none' });
      short.textContent = geography.states.get(name)?.[0]?.properties.stateCode ?? '';
      return [name, { full, short }] as const;
    }),
  );
  const allStateTexts = [...stateTexts.values()].flatMap(({ full, short }) => [full, short]);
  /** Per state: its counties' projected centroids, weighted by projected area, and bounds (zoom 1). */
  let stateAnchors = new Map<
    string,
    { x: number; y: number; weight: number; bounds: [[number, number], [number, number]] }[]
  >();
  /** Whether a screen point lies in the state (a name is written over its own state only). */
  const inState = (name: string, sx: number, sy: number): boolean => {
    const [x, y] = transform.invert([sx, sy]);
    const counties = geography.states.get(name) ?? [];
    return (stateAnchors.get(name) ?? []).some((part, i) => {
      const [[x0, y0], [x1, y1]] = part.bounds;
      if (x < x0 || x > x1 || y < y0 || y > y1) return false;
      const lngLat = projection.invert?.([x, y]);
      const county = counties[i];
      return lngLat !== null && lngLat !== undefined && county !== undefined && geoContains(county, lngLat);
    });
  };
  const stateAnchor = (name: string): { x: number; y: number } | undefined => {
    let x = 0;
    let y = 0;
    let total = 0;
    for (const part of stateAnchors.get(name) ?? []) {
      const sx = transform.applyX(part.x);
      const sy = transform.applyY(part.y);
      if (sx < 0 || sy < 0 || sx > width || sy > height) continue;
      x += sx * part.weight;
      y += sy * part.weight;
      total += part.weight;
    }
    return total > 0 ? { x: x / total, y: y / total } : undefined;
  };

  const layoutLabels = () => {
    if (width === 0) return;
    const frame = svg.getBoundingClientRect();
    const obstacles: Box[] = overlays.map((overlay) => {
      const box = overlay.getBoundingClientRect();
      return {
        x: box.left - frame.left - 2,
        y: box.top - frame.top - 2,
        width: box.width + 4,
        height: box.height + 4,
      };
    });
    for (const [index, dot] of dots.entries()) {
      if (!onScreen(index)) continue;
      const [x, y] = screen(index);
      const r = Number(dot.getAttribute('r')) + 1;
      obstacles.push({ x: x - r, y: y - r, width: 2 * r, height: 2 * r });
    }
    const requests: LabelRequest<LabelId>[] = [];
    const textOf = (id: LabelId): SVGTextElement | undefined => {
      if (!('state' in id)) return id.place === hot ? hotLabel : placeLabelTexts[id.place];
      const texts = stateTexts.get(id.state);
      return id.short ? texts?.short : texts?.full;
    };
    const requestFor = (
      id: LabelId,
      x: number,
      y: number,
      gap: number,
    ): LabelRequest<LabelId> | undefined => {
      const text = textOf(id);
      const size = text && measure(text);
      return size && { id, x, y, gap, width: size.width, height: size.height };
    };
    const askPlace = (index: number) => {
      if (!onScreen(index)) return;
      const [x, y] = screen(index);
      const request = requestFor({ place: index }, x, y, dotRadius(kindsOf(index)) + 2);
      if (request) requests.push(request);
    };
    /** A state's name over the state, near the middle of its part in view; else its postal code. */
    const askState = (state: string) => {
      const anchor = stateAnchor(state);
      if (!anchor) return;
      const over = (box: Box) =>
        inState(state, box.x + box.width / 2, box.y + box.height / 2) &&
        inState(state, box.x, box.y + box.height / 2) &&
        inState(state, box.x + box.width, box.y + box.height / 2);
      const [full, short] = [false, true].map((isShort) => {
        const request = requestFor({ state, short: isShort }, anchor.x, anchor.y, 0);
        return request && { ...request, around: 'centre' as const, accepts: over };
      });
      if (full) requests.push(short ? { ...full, fallback: short } : full);
      else if (short) requests.push(short);
    };
    // Most important first: the place in hand, the picked one, those with notes, then the rest.
    if (hot !== undefined) {
      const place = places[hot]!;
      hotLabel.textContent = placeName(place);
      hotLabel.dataset.location = locationKey(place.latitude, place.longitude);
      measured.delete(hotLabel);
      askPlace(hot);
    }
    const rest = places
      .map((place, index) => ({ place, index }))
      .filter(({ place, index }) => place.name !== '' && index !== hot);
    const picked = rest.filter(({ index }) => index === selected);
    const noted = rest.filter(
      ({ place, index }) => index !== selected && withNotes.has(locationKey(place.latitude, place.longitude)),
    );
    const others = rest.filter((entry) => !picked.includes(entry) && !noted.includes(entry));
    for (const { index } of [...picked, ...noted]) askPlace(index);
    // The states' names before the other places': where you are comes first.
    for (const name of stateNames) askState(name);
    for (const { index } of others) askPlace(index);

    const placed = placeLabels(requests, obstacles, { x: 2, y: 2, width: width - 4, height: height - 4 });
    const shown = new Set<SVGTextElement>();
    for (const { id, box } of placed) {
      const text = textOf(id);
      const size = text && measured.get(text);
      if (!text || !size) continue;
      text.setAttribute('x', (box.x - size.left).toFixed(1));
      text.setAttribute('y', (box.y - size.top).toFixed(1));
      text.removeAttribute('display');
      shown.add(text);
    }
    for (const text of [hotLabel, ...placeLabelTexts, ...allStateTexts]) {
      if (!shown.has(text)) text.setAttribute('display', 'none');
    }
  };

  const draw = () => {
    if (width === 0) return;
    geo.setAttribute(
      'transform',
      `translate(${transform.x.toFixed(2)},${transform.y.toFixed(2)}) scale(${transform.k.toFixed(4)})`,
    );
    for (const [index, dot] of dots.entries()) {
      const [x, y] = screen(index);
      dot.setAttribute('cx', x.toFixed(1));
      dot.setAttribute('cy', y.toFixed(1));
    }
    svg.dataset.zoom = transform.k.toFixed(2);
    layoutLabels();
  };

  /** Fits the places to the element's size (CSS pixels): on start, and whenever it changes. */
  const resize = () => {
    const rect = svg.getBoundingClientRect();
    const w = Math.round(rect.width);
    const h = Math.round(rect.height);
    if (w === 0 || h === 0 || (w === width && h === height)) return;
    width = w;
    height = h;
    svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
    water.setAttribute('width', String(w));
    water.setAttribute('height', String(h));
    projection.fitExtent(
      [
        [FIT_PADDING, FIT_PADDING],
        [w - FIT_PADDING, h - FIT_PADDING],
      ],
      placesShape,
    );
    const path = geoPath(projection);
    land.setAttribute('d', path(geography.land) ?? '');
    countyLines.setAttribute('d', path(geography.countyLines) ?? '');
    stateLines.setAttribute('d', path(geography.stateLines) ?? '');
    projected = places.map((p) => {
      const point = projection([p.longitude / 1e7, p.latitude / 1e7]);
      return [point?.[0] ?? 0, point?.[1] ?? 0] as const;
    });
    stateAnchors = new Map(
      [...geography.states].map(([name, counties]) => [
        name,
        counties.map((county) => {
          const [x, y] = path.centroid(county);
          return { x, y, weight: path.area(county), bounds: path.bounds(county) };
        }),
      ]),
    );
    zoomer.extent([
      [0, 0],
      [w, h],
    ]);
    zoomer.translateExtent([
      [0, 0],
      [w, h],
    ]);
    // Keeps the current zoom within the new bounds; the zoom event draws.
    zoomer.translateBy(view, 0, 0);
    svg.dataset.ready = 'true';
  };

  for (const { place, index } of order) {
    const dot = make('circle', {
      role: 'button',
      tabindex: '-1',
      'aria-label': placeName(place),
      'data-location': locationKey(place.latitude, place.longitude),
    });
    const title = doc.createElementNS(SVG, 'title');
    title.textContent = placeName(place);
    dot.append(title);
    dot.addEventListener('click', () => onPick(place));
    const setHot = (next: number | undefined) => {
      if (hot === next) return;
      hot = next;
      layoutLabels();
    };
    dot.addEventListener('pointerenter', () => setHot(index));
    dot.addEventListener('pointerleave', () => setHot(focused));
    dot.addEventListener('focus', () => {
      focused = index;
      reveal(index);
      setHot(index);
    });
    dot.addEventListener('blur', () => {
      focused = undefined;
      setHot(undefined);
    });
    dot.addEventListener('keydown', (event) => {
      const at = order.findIndex((entry) => entry.index === index);
      const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
      const zoomStep = { '+': 2, '=': 2, '-': 0.5 }[event.key];
      if (step !== undefined) {
        event.preventDefault();
        const next = order[(at + step + order.length) % order.length]!;
        roveTo(next.index);
        dots[next.index]?.focus();
      } else if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        onPick(place);
      } else if (zoomStep !== undefined) {
        event.preventDefault();
        zoomer.scaleTo(view, transform.k * zoomStep, projected[index] ? screen(index) : undefined);
      } else if (event.key === '0') {
        event.preventDefault();
        zoomer.transform(view, zoomIdentity);
      }
    });
    dots[index] = dot;
    dotLayer.append(dot);
    const label = make('text', {
      class: 'place-label',
      display: 'none',
      'data-location': locationKey(place.latitude, place.longitude),
    });
    label.textContent = placeLabel(place);
    placeLabelTexts[index] = label;
  }
  labelLayer.append(...placeLabelTexts.filter(Boolean), ...allStateTexts, hotLabel);
  const roveTo = (index: number) => {
    for (const dot of dots) dot.setAttribute('tabindex', '-1');
    dots[index]?.setAttribute('tabindex', '0');
  };
  roveTo(order[0]!.index);

  const refresh = () => {
    for (const [index, dot] of dots.entries()) {
      const kinds = kindsOf(index);
      dot.setAttribute('class', ['dot', ...kinds].join(' '));
      dot.setAttribute('data-mark', [...kinds].join(' '));
      dot.setAttribute('r', String(dotRadius(kinds)));
    }
    layoutLabels();
  };
  refresh();
  new ResizeObserver(resize).observe(svg);
  resize();

  return {
    select(place) {
      const index = place ? places.indexOf(place) : -1;
      selected = index >= 0 ? index : undefined;
      if (selected !== undefined) {
        roveTo(selected);
        // The picked dot is drawn last, on top (moving it drops its focus: it gets it back).
        const dot = dots[selected]!;
        const hadFocus = doc.activeElement === dot;
        dotLayer.append(dot);
        if (hadFocus) dot.focus();
        reveal(selected);
      }
      refresh();
    },
    markNotes(keys) {
      withNotes = keys;
      refresh();
    },
    zoomBy(factor) {
      zoomer.scaleBy(view, factor);
    },
    resetZoom() {
      zoomer.transform(view, zoomIdentity);
    },
  };
}
