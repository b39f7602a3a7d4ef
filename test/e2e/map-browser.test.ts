/**
 * The page's map in real Chromium (playwright-core) against a real gateway and core: the
 * geography is drawn (checked on screenshots, pixel by pixel), all 100 places are marked, labels
 * never overlap one another or a mark at any zoom, the legend names every mark, zoom and pan work
 * by buttons, wheel, drag and keys, and nothing is fetched from anywhere but the gateway.
 * Screenshots: test-results/map*.png.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ALL_PLACES, FEATURES, placeLabel } from '../../clients/browser/src/features.js';
import { browserAvailable, launchBrowser, RESULTS } from '../helpers/browser.js';
import { type RunningCore, startCore } from '../helpers/core.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';

const hasBrowser = browserAvailable('the map browser test', 'test/e2e/map-browser.test.ts');

interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}
interface MapLayout {
  readonly frame: Rect;
  readonly zoom: string;
  readonly labels: { text: string; location: string; kind: string; box: Rect }[];
  readonly dots: { location: string; classes: string; box: Rect }[];
}

/**
 * Where everything is on the map now, in CSS pixels (getBoundingClientRect). No named functions
 * inside: tsx would wrap them in a `__name` helper the page does not have.
 */
const mapLayout = (page: Page): Promise<MapLayout> =>
  page.evaluate(() => {
    const svg = document.getElementById('map')!;
    const [frame] = [svg.getBoundingClientRect()].map((b) => ({
      x: b.x,
      y: b.y,
      width: b.width,
      height: b.height,
    }));
    return {
      frame: frame!,
      zoom: svg.dataset.zoom ?? '',
      labels: [...svg.querySelectorAll<SVGTextElement>('text')]
        .filter((text) => text.getAttribute('display') !== 'none')
        .map((text) => [text, text.getBoundingClientRect()] as const)
        .map(([text, b]) => ({
          text: text.textContent ?? '',
          location: text.dataset.location ?? '',
          kind: text.getAttribute('class') ?? '',
          box: { x: b.x, y: b.y, width: b.width, height: b.height },
        })),
      dots: [...svg.querySelectorAll<SVGCircleElement>('circle.dot')]
        .map((dot) => [dot, dot.getBoundingClientRect()] as const)
        .map(([dot, b]) => ({
          location: dot.dataset.location ?? '',
          classes: dot.getAttribute('class') ?? '',
          box: { x: b.x, y: b.y, width: b.width, height: b.height },
        })),
    };
  });

/** Overlap by more than half a pixel (boxes may touch). */
const overlap = (a: Rect, b: Rect) =>
  Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x) > 0.5 &&
  Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y) > 0.5;
const within = (inner: Rect, outer: Rect) =>
  inner.x >= outer.x - 0.5 &&
  inner.y >= outer.y - 0.5 &&
  inner.x + inner.width <= outer.x + outer.width + 0.5 &&
  inner.y + inner.height <= outer.y + outer.height + 0.5;
const centre = (box: Rect) => ({ x: box.x + box.width / 2, y: box.y + box.height / 2 });
const distanceToBox = (point: { x: number; y: number }, box: Rect) =>
  Math.hypot(
    Math.max(box.x - point.x, 0, point.x - (box.x + box.width)),
    Math.max(box.y - point.y, 0, point.y - (box.y + box.height)),
  );

/** The checks every layout must pass: returns the place labels shown. */
function assertLabelsClear(layout: MapLayout): MapLayout['labels'] {
  const { labels, dots, frame } = layout;
  for (const [i, label] of labels.entries()) {
    assert.ok(within(label.box, frame), `“${label.text}” lies inside the map`);
    for (const other of labels.slice(i + 1)) {
      assert.ok(!overlap(label.box, other.box), `“${label.text}” overlaps “${other.text}”`);
    }
    for (const dot of dots) {
      assert.ok(!overlap(label.box, dot.box), `“${label.text}” covers the mark at ${dot.location}`);
    }
  }
  const placeLabels = labels.filter((label) => label.kind.includes('place-label'));
  for (const label of placeLabels) {
    // Beside its own place: the mark's radius and a few pixels away at most.
    const own = dots.find((dot) => dot.location === label.location);
    assert.ok(own, `“${label.text}” names a place on the map`);
    const distance = distanceToBox(centre(own.box), label.box);
    assert.ok(
      distance <= own.box.width / 2 + 4,
      `“${label.text}” is ${distance.toFixed(1)} px from its place`,
    );
    if (!label.kind.includes('hot')) {
      const place = ALL_PLACES.find((p) => `${p.latitude},${p.longitude}` === label.location);
      assert.equal(label.text, place && placeLabel(place), 'a place is labelled with its town');
    }
  }
  return placeLabels;
}

/** The map's colours (styles.css), to find on screenshots. */
const PALETTE = {
  water: '#cfe3f2',
  land: '#f4f1e8',
  named: '#2f7d4f',
  unnamed: '#8a94a3',
  picked: '#d1495b',
} as const;
type Colour = keyof typeof PALETTE;

describe('the map on the page, in real Chromium', { skip: !hasBrowser, timeout: 180_000 }, () => {
  let core: RunningCore;
  let gw: RunningGateway;
  let browser: Browser;
  /** A blank page (no CSP) that reads screenshots' pixels on a canvas. */
  let analyzer: Page;
  const problems: string[] = [];
  const foreign: string[] = [];

  const openPage = async (width = 1100, height = 760): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width, height } });
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    // Offline: the page, its map and its data come from the gateway, and nothing else is asked for.
    const own = new URL(gw.httpUrl).host;
    page.on('request', (request) => {
      if (new URL(request.url()).host !== own) foreign.push(request.url());
    });
    page.on('websocket', (socket) => {
      if (new URL(socket.url()).host !== own) foreign.push(socket.url());
    });
    await page.goto(`${gw.httpUrl}/`);
    // A phone's map is in a closed <details>.
    if (width > 720) await page.waitForSelector('#map[data-ready="true"]');
    return page;
  };

  /** Share of the screenshot's pixels near each colour of the palette, and how many colours it has. */
  const colours = async (png: Buffer) =>
    analyzer.evaluate(
      async ({ base64, palette }) => {
        const image = new Image();
        image.src = `data:image/png;base64,${base64}`;
        await image.decode();
        const canvas = document.createElement('canvas');
        canvas.width = image.width;
        canvas.height = image.height;
        const context = canvas.getContext('2d')!;
        context.drawImage(image, 0, 0);
        const { data } = context.getImageData(0, 0, image.width, image.height);
        const targets = Object.entries(palette).map(
          ([name, hex]) => [name, [1, 3, 5].map((at) => Number.parseInt(hex.slice(at, at + 2), 16))] as const,
        );
        const counts: Record<string, number> = Object.fromEntries(targets.map(([name]) => [name, 0]));
        const distinct = new Set<number>();
        for (let i = 0; i < data.length; i += 4) {
          const [r = 0, g = 0, b = 0] = [data[i], data[i + 1], data[i + 2]];
          distinct.add((r << 16) | (g << 8) | b);
          for (const [name, [tr = 0, tg = 0, tb = 0]] of targets) {
            if (Math.abs(r - tr) + Math.abs(g - tg) + Math.abs(b - tb) <= 24)
              counts[name] = (counts[name] ?? 0) + 1;
          }
        }
        const pixels = data.length / 4;
        return {
          share: Object.fromEntries(Object.entries(counts).map(([name, n]) => [name, n / pixels])),
          pixels: counts,
          distinct: distinct.size,
        };
      },
      { base64: png.toString('base64'), palette: PALETTE },
    ) as Promise<{ share: Record<Colour, number>; pixels: Record<Colour, number>; distinct: number }>;

  /** How many pixels differ between two screenshots of the same size. */
  const pixelsChanged = async (a: Buffer, b: Buffer) =>
    analyzer.evaluate(
      async ([first, second]) => {
        const read = await Promise.all(
          [first, second].map(async (base64) => {
            const image = new Image();
            image.src = `data:image/png;base64,${base64}`;
            await image.decode();
            const canvas = document.createElement('canvas');
            canvas.width = image.width;
            canvas.height = image.height;
            const context = canvas.getContext('2d')!;
            context.drawImage(image, 0, 0);
            return context.getImageData(0, 0, image.width, image.height).data;
          }),
        );
        const [x = new Uint8ClampedArray(), y = new Uint8ClampedArray()] = read;
        if (x.length !== y.length) return -1;
        let changed = 0;
        for (let i = 0; i < x.length; i += 4) {
          if (x[i] !== y[i] || x[i + 1] !== y[i + 1] || x[i + 2] !== y[i + 2]) changed += 1;
        }
        return changed;
      },
      [a.toString('base64'), b.toString('base64')] as const,
    );

  /**
   * The pixels a layer of the map paints: the map's screenshot against one with the layer hidden
   * (a presentation attribute: the page's CSP allows no inline style).
   */
  const paintedBy = async (page: Page, selector: string, full: Buffer) => {
    await page.$$eval(selector, (elements) => {
      for (const element of elements) element.setAttribute('display', 'none');
    });
    const without = await page.locator('#map').screenshot();
    await page.$$eval(selector, (elements) => {
      for (const element of elements) element.removeAttribute('display');
    });
    return pixelsChanged(full, without);
  };

  before(async () => {
    // First: it builds the page, which the gateway serves only if it exists when the gateway starts.
    browser = await launchBrowser();
    analyzer = await browser.newPage();
    core = await startCore();
    gw = await startGateway(core.address);
  });
  after(async () => {
    await browser?.close();
    await gw?.app.close();
    await core?.stop();
  });

  test('the region is drawn (land, water, state and county lines) with all 100 places on it', async () => {
    const page = await openPage();
    const marks = page.locator('#map circle.dot');
    assert.equal(await marks.count(), 100);
    assert.equal(await page.locator('#map circle.dot.named').count(), FEATURES.length);
    assert.equal(await page.locator('#map circle.dot.unnamed').count(), 100 - FEATURES.length);
    // Each place is a named button for assistive technology.
    assert.equal(await page.locator('#map circle.dot[role="button"][aria-label]').count(), 100);
    for (const selector of ['path.land', 'path.state-line', 'path.county-line']) {
      const d = (await page.getAttribute(`#map ${selector}`, 'd')) ?? '';
      assert.ok(d.length > 1000, `${selector} is drawn (${d.length} characters of path)`);
    }
    const layout = await mapLayout(page);
    assert.ok(layout.frame.width > 300 && layout.frame.height > 200, 'the map has room');
    // Every place is inside the map when it is zoomed all the way out.
    for (const dot of layout.dots) assert.ok(within(dot.box, layout.frame), `${dot.location} is in view`);
    const states = layout.labels.filter((label) => label.kind === 'state-label').map((label) => label.text);
    // The places' states are named (by postal code where the name does not fit over the state).
    for (const [state, code] of [
      ['NEW JERSEY', 'NJ'],
      ['NEW YORK', 'NY'],
      ['PENNSYLVANIA', 'PA'],
    ] as const) {
      assert.ok(states.includes(state) || states.includes(code), `${state} in ${states.join(', ')}`);
    }

    const png = await page.locator('#map').screenshot({ path: `${RESULTS}/map.png` });
    await page.screenshot({ path: `${RESULTS}/map-page.png` });
    const { share, pixels, distinct } = await colours(png);
    process.stdout.write(`# map.png: ${JSON.stringify({ share, distinct })}\n`);
    assert.ok(distinct > 200, `not a blank or flat picture (${distinct} colours)`);
    assert.ok(share.land > 0.4, `mostly land (${share.land})`);
    assert.ok(share.water > 0.03, `with water: the bays, the Hudson, the ocean (${share.water})`);
    // Each outline layer paints its share of the picture: hidden, the screenshot changes that much.
    const area = png.length > 0 ? layout.frame.width * layout.frame.height : 0;
    const painted = {
      land: await paintedBy(page, '#map path.land', png),
      stateLines: await paintedBy(page, '#map path.state-line', png),
      countyLines: await paintedBy(page, '#map path.county-line', png),
      places: await paintedBy(page, '#map circle.dot', png),
      labels: await paintedBy(page, '#map .labels', png),
    };
    process.stdout.write(`# map.png, pixels painted by each layer: ${JSON.stringify(painted)} of ${area}\n`);
    assert.ok(painted.land > area * 0.4, 'the land is drawn');
    assert.ok(painted.stateLines > 800, 'the state lines are drawn');
    assert.ok(painted.countyLines > 2000, 'the county lines are drawn');
    assert.ok(painted.places > 2000, 'the places are drawn');
    assert.ok(painted.labels > 2000, 'the labels are drawn');
    assert.ok(pixels.named > 1000, `the named places' marks (${pixels.named} px)`);
    assert.ok(pixels.unnamed > 100, `the unnamed spots' marks (${pixels.unnamed} px)`);
    assert.ok(pixels.picked > 30, `the picked place (${pixels.picked} px)`);
    await page.close();
  });

  test('labels never overlap one another or a mark, at any zoom; zooming in shows more', async () => {
    const page = await openPage();
    const atOne = assertLabelsClear(await mapLayout(page));
    assert.ok(atOne.length >= 10, `${atOne.length} places labelled zoomed out`);
    await page.click('#zoom-in');
    await page.click('#zoom-in');
    const zoomed = await mapLayout(page);
    assert.equal(zoomed.zoom, '4.00');
    const atFour = assertLabelsClear(zoomed);
    const inView = zoomed.dots.filter((dot) => within(dot.box, zoomed.frame));
    assert.ok(inView.length > 0 && inView.length < 100, `${inView.length} places in view at zoom 4`);
    // Most of the named places in view get a label when there is room.
    const namedInView = inView.filter((dot) => dot.classes.includes('named')).length;
    assert.ok(
      atFour.length >= namedInView / 2,
      `${atFour.length} of ${namedInView} named places in view labelled`,
    );
    const png = await page.locator('#map').screenshot({ path: `${RESULTS}/map-zoomed.png` });
    const { share } = await colours(png);
    assert.ok(share.land > 0.4, `the zoomed map is mostly land (${share.land})`);
    assert.ok((await paintedBy(page, '#map path.county-line', png)) > 500, 'with county lines');

    // Wheel and drag.
    await page.click('#zoom-reset');
    assert.equal((await mapLayout(page)).zoom, '1.00');
    const frame = (await mapLayout(page)).frame;
    const middle = centre(frame);
    await page.mouse.move(middle.x, middle.y);
    await page.mouse.wheel(0, -400);
    await page.waitForFunction(() => Number(document.getElementById('map')?.dataset.zoom) > 1.2);
    const before = (await mapLayout(page)).dots[0]!.box;
    await page.mouse.move(middle.x, middle.y);
    await page.mouse.down();
    await page.mouse.move(middle.x + 40, middle.y + 30, { steps: 5 });
    await page.mouse.up();
    const afterDrag = (await mapLayout(page)).dots[0]!.box;
    assert.ok(
      Math.abs(afterDrag.x - before.x - 40) < 2 && Math.abs(afterDrag.y - before.y - 30) < 2,
      'drag pans',
    );
    assertLabelsClear(await mapLayout(page));
    await page.close();
  });

  test('the legend names every mark the map draws, with the same colours', async () => {
    const page = await openPage();
    // A note, so that a place with notes is on the map too.
    await page.waitForSelector('#state[data-state="open"]');
    await page.selectOption('#feature', { label: FEATURES[2]!.name });
    await page.fill('#message', 'marked on the map');
    await page.press('#message', 'Enter');
    await page.waitForSelector('#map circle.dot.has-notes');
    // Another place picked: the one with notes is drawn as such, not as the picked one.
    await page.selectOption('#feature', { label: FEATURES[3]!.name });
    const drawn = await page.$$eval('#map [data-mark]', (elements) => [
      ...new Set(elements.flatMap((element) => (element.getAttribute('data-mark') ?? '').split(' '))),
    ]);
    const legend = await page.$$eval('#map-legend li', (items) =>
      items.map((item) => ({ mark: item.getAttribute('data-mark') ?? '', text: item.textContent ?? '' })),
    );
    for (const kind of [
      'named',
      'unnamed',
      'has-notes',
      'selected',
      'state-line',
      'county-line',
      'land',
      'water',
    ]) {
      assert.ok(drawn.includes(kind), `the map draws ${kind}`);
    }
    for (const kind of drawn)
      assert.ok(
        legend.some((entry) => entry.mark === kind),
        `the legend names ${kind}`,
      );
    assert.deepEqual(
      legend.map((entry) => entry.text),
      [
        'Named place',
        'Unnamed spot',
        'Place with notes',
        'Picked place',
        'State line',
        'County line',
        'Land',
        'Water',
      ],
    );
    // The swatches are drawn like the marks.
    const fills = await page.evaluate(() =>
      ['named', 'unnamed', 'has-notes', 'selected'].map((kind) =>
        [`#map circle.dot.${kind}`, `#map-legend li[data-mark="${kind}"] circle`]
          .map((selector) => document.querySelector(selector))
          .map((element) => (element ? getComputedStyle(element).fill : 'missing')),
      ),
    );
    for (const [onMap, inLegend] of fills) assert.equal(inLegend, onMap);
    await page.locator('.map-details').screenshot({ path: `${RESULTS}/map-legend.png` });
    await page.close();
  });

  test('keyboard: the focused place is named in full and kept in view; + zooms; Enter picks it', async () => {
    const page = await openPage();
    await page.focus('#map circle[tabindex="0"]');
    await page.keyboard.press('+');
    await page.keyboard.press('+');
    await page.keyboard.press('+');
    assert.equal((await mapLayout(page)).zoom, '8.00');
    let last = '';
    for (let step = 0; step < 12; step += 1) {
      await page.keyboard.press('ArrowRight');
      const focused = await page.evaluate(() => {
        const element = document.activeElement;
        return element instanceof SVGCircleElement
          ? { location: element.dataset.location ?? '', name: element.getAttribute('aria-label') ?? '' }
          : undefined;
      });
      assert.ok(focused && focused.location !== last, 'the focus moves to the next place east');
      last = focused.location;
      const layout = await mapLayout(page);
      const dot = layout.dots.find((d) => d.location === focused.location)!;
      assert.ok(within(dot.box, layout.frame), `the focused place ${focused.name} is in view`);
      const hot = layout.labels.find((label) => label.kind.includes('hot'));
      assert.equal(hot?.text, focused.name, 'named in full');
      assert.equal(hot?.location, focused.location);
      assertLabelsClear(layout);
    }
    await page.locator('#map').screenshot({ path: `${RESULTS}/map-keyboard.png` });
    await page.keyboard.press('Enter');
    const picked = await page.$eval('#map circle.selected', (dot) => dot.getAttribute('data-location'));
    assert.equal(picked, last);
    const place = ALL_PLACES.find((p) => `${p.latitude},${p.longitude}` === last)!;
    assert.equal(await page.inputValue('#latitude'), String(place.latitude / 1e7));
    await page.keyboard.press('0');
    assert.equal((await mapLayout(page)).zoom, '1.00');
    await page.close();
  });

  test('on a phone the map is one tap away, and laid out clear when opened', async () => {
    const page = await openPage(375, 740);
    assert.equal(await page.isVisible('#map'), false);
    await page.click('#map-details summary');
    await page.waitForFunction(
      () => (document.querySelectorAll('#map text.place-label:not([display])').length ?? 0) > 0,
    );
    const layout = await mapLayout(page);
    assert.ok(layout.frame.width > 300, 'the map spans the phone');
    assertLabelsClear(layout);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    await page.locator('#map').screenshot({ path: `${RESULTS}/map-375.png` });
    await page.close();
  });

  test('nothing fetched from anywhere but the gateway; no script errors or CSP violations', () => {
    assert.deepEqual(foreign, []);
    assert.deepEqual(problems, []);
  });
});
