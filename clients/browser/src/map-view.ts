/**
 * The map: all 100 places of the dataset drawn by longitude and latitude (equirectangular, x
 * scaled by cos(latitude) so distances look right), no tiles, no network. A place's name shows on
 * hover, on keyboard focus and on tap; places with notes are marked. One tab stop (roving
 * tabindex): arrow keys move between places west to east, Enter or Space picks. Attributes only,
 * no inline styles (the page's CSP).
 */
import { type Feature, placeName } from './features.js';
import { locationKey } from './note-groups.js';

const SVG = 'http://www.w3.org/2000/svg';

export interface MapView {
  select(place: Feature | undefined): void;
  /** Marks the places that have notes (location keys). */
  markNotes(keys: ReadonlySet<string>): void;
}

export function renderMap(
  svg: SVGSVGElement,
  places: readonly Feature[],
  onPick: (place: Feature) => void,
): MapView {
  const doc = svg.ownerDocument;
  const lats = places.map((p) => p.latitude);
  const lngs = places.map((p) => p.longitude);
  const [minLat, maxLat] = [Math.min(...lats), Math.max(...lats)];
  const [minLng, maxLng] = [Math.min(...lngs), Math.max(...lngs)];
  const scaleX = Math.cos(((minLat + maxLat) / 2 / 1e7) * (Math.PI / 180));
  const width = 100;
  const height = Math.max(30, Math.min(90, (width * (maxLat - minLat)) / ((maxLng - minLng) * scaleX || 1)));
  const pad = 4;
  svg.setAttribute('viewBox', `0 0 ${width} ${height + 2 * pad}`);
  const x = (lng: number) => pad + ((lng - minLng) / (maxLng - minLng || 1)) * (width - 2 * pad);
  const y = (lat: number) => pad + ((maxLat - lat) / (maxLat - minLat || 1)) * height;

  const label = doc.createElementNS(SVG, 'text');
  label.setAttribute('class', 'map-label');
  label.setAttribute('aria-hidden', 'true');
  const showLabel = (place: Feature | undefined) => {
    if (!place) {
      label.textContent = '';
      return;
    }
    label.textContent = placeName(place);
    const px = x(place.longitude);
    label.setAttribute('x', px.toFixed(2));
    label.setAttribute('y', (y(place.latitude) - 2.5).toFixed(2));
    label.setAttribute('text-anchor', px < 50 ? 'start' : 'end');
  };

  // West to east: the order the arrow keys follow.
  const order = places
    .map((place, index) => ({ place, index }))
    .sort((a, b) => a.place.longitude - b.place.longitude);
  const dots: SVGCircleElement[] = [];
  let selected: number | undefined;
  let withNotes: ReadonlySet<string> = new Set();
  const classFor = (index: number) => {
    const place = places[index]!;
    const classes = ['dot'];
    if (!place.name) classes.push('unnamed');
    if (withNotes.has(locationKey(place.latitude, place.longitude))) classes.push('has-notes');
    if (index === selected) classes.push('selected');
    return classes.join(' ');
  };
  for (const { place, index } of order) {
    const dot = doc.createElementNS(SVG, 'circle');
    dot.setAttribute('cx', x(place.longitude).toFixed(2));
    dot.setAttribute('cy', y(place.latitude).toFixed(2));
    dot.setAttribute('r', '1.6');
    dot.setAttribute('class', classFor(index));
    dot.setAttribute('role', 'button');
    dot.setAttribute('tabindex', '-1');
    dot.setAttribute('aria-label', placeName(place));
    dot.dataset.location = locationKey(place.latitude, place.longitude);
    const title = doc.createElementNS(SVG, 'title');
    title.textContent = placeName(place);
    dot.append(title);
    dot.addEventListener('click', () => onPick(place));
    dot.addEventListener('pointerenter', () => showLabel(place));
    dot.addEventListener('pointerleave', () =>
      showLabel(selected === undefined ? undefined : places[selected]),
    );
    dot.addEventListener('focus', () => showLabel(place));
    dot.addEventListener('keydown', (event) => {
      const at = order.findIndex((entry) => entry.index === index);
      const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
      if (step !== undefined) {
        event.preventDefault();
        const next = order[(at + step + order.length) % order.length]!;
        roveTo(next.index);
        dots[next.index]?.focus();
      } else if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        onPick(place);
      }
    });
    dots[index] = dot;
    svg.append(dot);
  }
  svg.append(label);
  const roveTo = (index: number) => {
    for (const dot of dots) dot.setAttribute('tabindex', '-1');
    dots[index]?.setAttribute('tabindex', '0');
  };
  roveTo(order[0]!.index);

  const refresh = () => {
    for (const [index, dot] of dots.entries()) {
      dot.setAttribute('class', classFor(index));
      dot.setAttribute('r', index === selected ? '2.6' : '1.6');
    }
  };
  return {
    select(place) {
      const index = place ? places.indexOf(place) : -1;
      selected = index >= 0 ? index : undefined;
      if (selected !== undefined) {
        roveTo(selected);
        // The selected dot is drawn last, on top (the label above it).
        svg.insertBefore(dots[selected]!, label);
      }
      refresh();
      showLabel(selected === undefined ? undefined : places[selected]);
    },
    markNotes(keys) {
      withNotes = keys;
      refresh();
    },
  };
}
