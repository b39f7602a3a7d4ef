/**
 * Live notes on the page, in real Chromium (playwright-core) against a real gateway and core: a
 * note posted in one page appears in another without any action there; after a reconnect the
 * page says that notes may have been missed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { FEATURES } from '../../clients/browser/src/features.js';
import { buildGateway, type Gateway } from '../../gateway/app.js';
import { defaultGatewayConfig } from '../../gateway/config.js';
import { browserAvailable, launchBrowser, RESULTS } from '../helpers/browser.js';
import { type RunningCore, startCore } from '../helpers/core.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';

const hasBrowser = browserAvailable('the live-notes browser test', 'test/e2e/live-notes-browser.test.ts');

const expectText = async (page: Page, selector: string, pattern: RegExp, timeout = 10_000) => {
  const locator = page.locator(selector);
  const deadline = Date.now() + timeout;
  let text = '';
  while (Date.now() < deadline) {
    text = (await locator.count()) > 0 ? ((await locator.first().textContent()) ?? '') : '';
    if (pattern.test(text)) return text;
    await page.waitForTimeout(50);
  }
  assert.fail(`${selector} never matched ${pattern}; last text: ${JSON.stringify(text)}`);
};

const liveState = (page: Page, state: string, timeout = 15_000) =>
  page.waitForSelector(`#live-state[data-state="${state}"]`, { timeout });

/** Posts one note straight to the core (RouteChat), as a client of another kind would. */
function postToCore(core: RunningCore, latitude: number, longitude: number, message: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const call = core.client.RouteChat();
    call.on('data', () => {});
    call.on('error', reject);
    call.on('end', resolve);
    call.write({ location: { latitude, longitude }, message });
    call.end();
  });
}

describe('live notes on the page, in real Chromium', { skip: !hasBrowser, timeout: 120_000 }, () => {
  let core: RunningCore;
  let gw: RunningGateway;
  let browser: Browser;
  const problems: string[] = [];
  const feature = FEATURES[5]!;
  const groupAt = (page: Page) =>
    page.locator(`.group[data-location="${feature.latitude},${feature.longitude}"]`);

  /** A page in a browser context of its own (its own storage, like another person's browser). */
  const openPage = async (url: string): Promise<Page> => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/WebSocket connection to .* failed/.test(message.text())) {
        problems.push(`console: ${message.text()}`);
      }
    });
    await page.goto(url);
    await page.selectOption('#feature', { label: feature.name });
    return page;
  };
  /** The page connects by itself when opened. */
  const connect = async (page: Page) => {
    await expectText(page, '#state', /^Connected$/);
    await liveState(page, 'live');
  };
  const sendNote = async (page: Page, message: string) => {
    await page.fill('#message', message);
    await page.press('#message', 'Enter');
  };

  before(async () => {
    // First: it builds the page, which the gateway serves only if it exists when the gateway starts.
    browser = await launchBrowser();
    core = await startCore();
    gw = await startGateway(core.address);
  });
  after(async () => {
    await browser?.close();
    await gw?.app.close();
    await core?.stop();
  });

  test('a note posted in one page appears in the other without any action there, marked as theirs', async () => {
    const alice = await openPage(`${gw.httpUrl}/`);
    const bob = await openPage(`${gw.httpUrl}/`);
    await connect(alice);
    await connect(bob);
    await sendNote(alice, 'hello, live');
    // Bob does nothing.
    await expectText(bob, `.group[data-location="${feature.latitude},${feature.longitude}"]`, /hello, live/);
    assert.deepEqual(await groupAt(bob).locator('.note-text').allTextContents(), ['hello, live']);
    assert.deepEqual(await groupAt(bob).locator('.who').allTextContents(), ['other']);
    assert.match(
      (await bob.textContent('#announcer')) ?? '',
      new RegExp(`^New note at ${feature.name}: hello, live$`),
    );
    assert.equal(await bob.textContent('#stat-live'), '1');
    assert.equal(await bob.textContent('#stat-sent'), '0');
    const marked = bob.locator(
      `#map circle.has-notes[data-location="${feature.latitude},${feature.longitude}"]`,
    );
    assert.equal(await marked.count(), 1, "Bob's map marks the place");
    // Alice's own note shows once, as hers: its live copy is an echo, not someone else's note.
    await expectText(alice, '.groups', /hello, live/);
    await alice.waitForTimeout(300);
    assert.deepEqual(await groupAt(alice).locator('.note-text').allTextContents(), ['hello, live']);
    assert.deepEqual(await groupAt(alice).locator('.who').allTextContents(), ['you']);
    assert.equal(await alice.textContent('#stat-live'), '0');
    // Bob answers; his reply lists both, each once; Alice sees his live.
    await sendNote(bob, 'hi Alice');
    await expectText(alice, `.group[data-location="${feature.latitude},${feature.longitude}"]`, /hi Alice/);
    await expectText(bob, `.group[data-location="${feature.latitude},${feature.longitude}"]`, /hi Alice/);
    await bob.waitForTimeout(300);
    assert.deepEqual(await groupAt(bob).locator('.note-text').allTextContents(), ['hi Alice', 'hello, live']);
    assert.deepEqual(await groupAt(bob).locator('.who').allTextContents(), ['you', 'other']);
    assert.deepEqual(await groupAt(alice).locator('.note-text').allTextContents(), [
      'hi Alice',
      'hello, live',
    ]);
    assert.deepEqual(await groupAt(alice).locator('.who').allTextContents(), ['other', 'you']);
    // The region live and no gap: nothing was missed.
    assert.equal(await bob.isVisible('#gaps'), false);
    await bob.screenshot({ path: `${RESULTS}/browser-live.png`, fullPage: true });
    await alice.context().close();
    await bob.context().close();
  });

  test('after a reconnect the page shows that notes posted while it was offline are not shown', async () => {
    let local: Gateway | undefined = await startGateway(core.address);
    const port = (local as RunningGateway).port;
    const page = await openPage(`http://127.0.0.1:${port}/`);
    try {
      await connect(page);
      // A watch never ends by itself: the page lets go of it when its RouteChat is told the gateway
      // is going away, so the drain is not held for the whole --shutdown-grace (10 s).
      const closing = Date.now();
      await local.app.close();
      assert.ok(Date.now() - closing < 5000, `the gateway took ${Date.now() - closing} ms to close`);
      local = undefined;
      await liveState(page, 'offline');
      assert.match(
        (await page.textContent('#live-state')) ?? '',
        /^Live notes offline since \d{1,2}:\d\d:\d\d/,
      );
      // Posted while the page cannot watch: a watch gives new notes only.
      await postToCore(core, feature.latitude, feature.longitude, 'missed while offline');
      // The gateway back at the same address.
      local = await buildGateway(defaultGatewayConfig({ core: core.address, 'log-level': 'silent' }));
      await local.app.listen({ host: '127.0.0.1', port });
      await liveState(page, 'live', 30_000);
      await expectText(
        page,
        '#gaps .gap',
        /^Offline \d{1,2}:\d\d:\d\d( [AP]M)?–\d{1,2}:\d\d:\d\d( [AP]M)?: notes posted meanwhile are not shown\.$/,
      );
      assert.equal(await page.isVisible('#gaps'), true);
      await postToCore(core, feature.latitude, feature.longitude, 'after the reconnect');
      await expectText(page, '.groups', /after the reconnect/);
      assert.doesNotMatch((await page.textContent('.groups')) ?? '', /missed while offline/);
      // The gap is for the eye; screen readers hear only the new note.
      assert.equal(await page.getAttribute('#gaps', 'aria-live'), null);
      assert.match((await page.textContent('#announcer')) ?? '', /after the reconnect$/);
      await page.screenshot({ path: `${RESULTS}/browser-live-gap.png`, fullPage: true });
    } finally {
      await page.context().close();
      await local?.app.close();
    }
  });

  test('no script errors and no CSP violations', () => {
    assert.deepEqual(problems, []);
  });
});
