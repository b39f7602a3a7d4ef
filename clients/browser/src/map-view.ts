/**
 * A small SVG map of the features: a pointer shortcut for the place select (which stays the
 * keyboard and screen-reader path, so the map is aria-hidden). Attributes only, no inline styles.
 */
import type { Feature } from './features.js';

const SVG = 'http://www.w3.org/2000/svg';

/** Draws the features; returns a function that marks one as selected. */
export function renderMap(
  svg: SVGSVGElement,
  features: readonly Feature[],
  onPick: (index: number) => void,
): (index: number | undefined) => void {
  const [, , width = 100, height = 60] = (svg.getAttribute('viewBox') ?? '0 0 100 60').split(' ').map(Number);
  const lats = features.map((f) => f.latitude);
  const lngs = features.map((f) => f.longitude);
  const [minLat, maxLat] = [Math.min(...lats), Math.max(...lats)];
  const [minLng, maxLng] = [Math.min(...lngs), Math.max(...lngs)];
  const pad = 4;
  const x = (lng: number) => pad + ((lng - minLng) / (maxLng - minLng || 1)) * (width - 2 * pad);
  const y = (lat: number) => pad + ((maxLat - lat) / (maxLat - minLat || 1)) * (height - 2 * pad);

  const dots = features.map((feature, index) => {
    const dot = svg.ownerDocument.createElementNS(SVG, 'circle');
    dot.setAttribute('cx', x(feature.longitude).toFixed(2));
    dot.setAttribute('cy', y(feature.latitude).toFixed(2));
    dot.setAttribute('r', '1.6');
    dot.setAttribute('class', 'dot');
    const title = svg.ownerDocument.createElementNS(SVG, 'title');
    title.textContent = feature.name;
    dot.append(title);
    dot.addEventListener('click', () => onPick(index));
    svg.append(dot);
    return dot;
  });

  return (selected) => {
    for (const [index, dot] of dots.entries()) {
      dot.setAttribute('class', index === selected ? 'dot selected' : 'dot');
      dot.setAttribute('r', index === selected ? '2.6' : '1.6');
    }
    // The selected dot is drawn last, on top.
    const dot = selected === undefined ? undefined : dots[selected];
    if (dot) svg.append(dot);
  };
}
