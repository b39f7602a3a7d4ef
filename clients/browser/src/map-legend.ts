/**
 * The map's legend: one entry per kind of mark the map draws (map-view.ts's MARKS), each with a
 * swatch drawn with the map's own classes, so the legend and the map cannot disagree.
 */
import { type DotKind, dotRadius, MARKS } from './map-view.js';

const SVG = 'http://www.w3.org/2000/svg';

/** The classes a dot of this kind has on the map (a place with notes or picked is a named one here). */
const dotKinds = (kind: DotKind): Set<DotKind> =>
  new Set(kind === 'named' || kind === 'unnamed' ? [kind] : ['named', kind]);

export function renderLegend(list: HTMLUListElement): void {
  const doc = list.ownerDocument;
  const make = <K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string>) => {
    const element = doc.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    return element;
  };
  list.replaceChildren(
    ...MARKS.map((mark) => {
      const item = doc.createElement('li');
      item.dataset.mark = mark.kind;
      const swatch = make('svg', { class: 'swatch', viewBox: '0 0 18 18', 'aria-hidden': 'true' });
      if (mark.shape === 'dot') {
        const kinds = dotKinds(mark.kind);
        swatch.append(
          make('circle', {
            class: ['dot', ...kinds].join(' '),
            cx: '9',
            cy: '9',
            r: String(dotRadius(kinds)),
          }),
        );
      } else if (mark.shape === 'line') {
        swatch.append(make('path', { class: mark.kind, d: 'M1 12 L6 6 L12 11 L17 5' }));
      } else {
        swatch.append(make('rect', { class: mark.kind, x: '1', y: '1', width: '16', height: '16', rx: '2' }));
      }
      item.append(swatch, mark.label);
      return item;
    }),
  );
}
