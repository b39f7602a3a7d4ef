import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { FEATURES } from '../../clients/browser/src/features.js';
import { browserAvailable, launchBrowser, RESULTS } from '../helpers/browser.js';
import { type RunningCore, spawnTs, startCore } from '../helpers/core.js';
import { freePort, type RunningGateway, startGateway } from '../helpers/gateway.js';

const hasBrowser = browserAvailable('the browser test', 'test/e2e/browser.test.ts');

const expectText = async (page: Page, selector: string, pattern: RegExp, timeout = 10_000) => {
  const locator = page.locator(selector);
  const deadline = Date.now() + timeout;
  let text = '';
  while (Date.now() < deadline) {
    text = (await locator.textContent()) ?? '';
    if (pattern.test(text)) return text;
    await page.waitForTimeout(50);
  }
  assert.fail(`${selector} never matched ${pattern}; last text: ${JSON.stringify(text)}`);
};

describe('the browser page, in real Chromium, against a real gateway and core', { skip: !hasBrowser }, () => {
  let core: RunningCore;
  let gw: RunningGateway;
  let browser: Browser;
  const problems: string[] = [];
  const feature = FEATURES[3]!;

  /** Every WebSocket each page opened (it opens one when it loads). */
  const socketsOf = new Map<Page, string[]>();
  const openPage = async (width = 1100, height = 760): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width, height } });
    const sockets: string[] = [];
    socketsOf.set(page, sockets);
    page.on('websocket', (socket) => sockets.push(socket.url()));
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      // A refused connection during a test's own outage is expected; anything else is a problem.
      if (message.type() === 'error' && !/WebSocket connection to .* failed/.test(message.text())) {
        problems.push(`console: ${message.text()}`);
      }
    });
    await page.goto(`${gw.httpUrl}/`);
    return page;
  };
  /** The page connects by itself when opened. */
  const connect = async (page: Page) => {
    await expectText(page, '#state', /^Connected$/);
  };
  const sendNote = async (page: Page, message: string) => {
    await page.selectOption('#feature', { label: feature.name });
    await page.fill('#message', message);
    await page.press('#message', 'Enter');
  };
  const groupAt = (page: Page) =>
    page.locator(`.group[data-location="${feature.latitude},${feature.longitude}"]`);

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

  test('a note sent from one page shows on the other page at the same location', async () => {
    const alice = await openPage();
    const bob = await openPage();
    await connect(alice);
    await connect(bob);
    await sendNote(alice, 'hello from Alice');
    await expectText(alice, '.groups', /hello from Alice/);
    // RouteChat and the live-notes Watch share one socket: one WebSocket, to /v2.
    await expectText(alice, '#live-state', /^Live:/);
    assert.deepEqual(socketsOf.get(alice), [`${gw.httpUrl.replace(/^http/, 'ws')}/v2`]);
    await sendNote(bob, 'hi from Bob');
    // The core answers Bob's note with every note at the place: Alice's first.
    const bobGroup = groupAt(bob);
    await expectText(bob, `.group[data-location="${feature.latitude},${feature.longitude}"]`, /hi from Bob/);
    assert.deepEqual(await bobGroup.locator('.note-text').allTextContents(), [
      'hi from Bob',
      'hello from Alice',
    ]);
    assert.deepEqual(await bobGroup.locator('.who').allTextContents(), ['you', 'other']);
    assert.equal(await bobGroup.locator('h3').textContent(), feature.name);
    // Each note shows once, though the core repeats the whole list on every reply.
    await sendNote(alice, 'Alice again');
    await expectText(alice, '.groups', /Alice again/);
    assert.deepEqual(await groupAt(alice).locator('.note-text').allTextContents(), [
      'Alice again',
      'hi from Bob',
      'hello from Alice',
    ]);
    await bob.screenshot({ path: `${RESULTS}/browser.png`, fullPage: true });
    await alice.close();
    await bob.close();
  });

  test('coordinates are typed in degrees: sent as E7, shown in degrees; a bad one is explained', async () => {
    const page = await openPage();
    await connect(page);
    await page.selectOption('#feature', { label: feature.name });
    assert.equal(await page.inputValue('#latitude'), String(feature.latitude / 1e7));
    await page.fill('#latitude', 'north-ish');
    await page.fill('#message', 'lost');
    await page.press('#message', 'Enter');
    assert.equal(await page.getAttribute('#latitude', 'aria-invalid'), 'true');
    assert.match((await page.textContent('#latitude-error')) ?? '', /degrees/);
    assert.equal(await page.textContent('#stat-sent'), '0', 'nothing was sent');
    await page.fill('#latitude', '40.5');
    await page.fill('#longitude', '-74.25');
    await page.fill('#message', 'found my way');
    await page.press('#message', 'Enter');
    await expectText(page, '.group[data-location="405000000,-742500000"]', /found my way/);
    assert.match(
      (await page.textContent('.group[data-location="405000000,-742500000"]')) ?? '',
      /40\.50000, -74\.25000/,
    );
    assert.equal(await page.isVisible('#form-error'), false);
    assert.equal(await page.getAttribute('#latitude', 'aria-invalid'), null);
    await page.screenshot({ path: `${RESULTS}/browser-degrees.png` });
    await page.close();
  });

  test('each note shows its time; counters and the last round trip; only the new note is announced', async () => {
    const page = await openPage();
    await connect(page);
    await sendNote(page, 'counted');
    await expectText(page, '.groups', /counted/);
    await expectText(page, '#stat-latency', /^\d+ ms$/);
    assert.equal(await page.textContent('#stat-sent'), '1');
    assert.ok(Number(await page.textContent('#stat-received')) >= 1);
    assert.match(
      (await page.locator('.group .note time').first().textContent()) ?? '',
      /\d{1,2}:\d{2}:\d{2}/,
    );
    // One live region, holding the newest note only; the list itself is not live.
    assert.equal(await page.getAttribute('#groups', 'aria-live'), null);
    assert.match((await page.textContent('#announcer')) ?? '', /^You at .*: counted$/);
    await page.close();
  });

  test('the map plots all 100 places; names on focus; places with notes are marked', async () => {
    const page = await openPage();
    assert.equal(await page.locator('#map circle.dot').count(), 100);
    await page.focus('#map circle[tabindex="0"]');
    await page.keyboard.press('ArrowRight');
    const focused = (await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))) ?? '';
    const label = (await page.textContent('#map .place-label.hot')) ?? '';
    assert.ok(label.length > 0, 'the focused place is named');
    assert.equal(label, focused, 'by its full name');
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('#map circle.selected').count(), 1);
    await connect(page);
    await sendNote(page, 'on the map');
    await expectText(page, '.groups', /on the map/);
    const marked = page.locator(
      `#map circle.has-notes[data-location="${feature.latitude},${feature.longitude}"]`,
    );
    assert.equal(await marked.count(), 1);
    await page.screenshot({ path: `${RESULTS}/browser-map.png` });
    await page.close();
  });

  test('disconnect half-closes and shows the final status and close code', async () => {
    const page = await openPage();
    await connect(page);
    await sendNote(page, 'leaving soon');
    await expectText(page, '.groups', /leaving soon/);
    await page.click('#disconnect');
    await expectText(page, '#final-status', /OK \(0\).*close code 1000/);
    await expectText(page, '#state', /^Disconnected$/);
    assert.equal(await page.isHidden('#connection-reason'), true, 'no reason to show: a person left');
    // It stays disconnected until Connect is pressed.
    await page.waitForTimeout(1500);
    assert.equal(await page.textContent('#state'), 'Disconnected');
    await page.click('#connect');
    await expectText(page, '#state', /^Connected$/);
    await sendNote(page, 'back again');
    await expectText(page, '.groups', /back again/);
    await page.close();
  });

  test('core killed: the page shows reconnecting, resumes by itself, and a note typed meanwhile is delivered', async () => {
    const corePort = await freePort();
    let owned = spawnTs('core-server/main.ts', [
      '--listen',
      `127.0.0.1:${corePort}`,
      '--metrics-listen',
      '127.0.0.1:0',
    ]);
    await owned.waitForLog('core server listening', 30_000);
    const local = await startGateway(`127.0.0.1:${corePort}`);
    try {
      const page = await browser.newPage();
      page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
      await page.goto(`${local.httpUrl}/`);
      await expectText(page, '#state', /^Connected$/);
      await owned.stop('SIGKILL');
      await expectText(page, '#state', /^Reconnecting in \d+ s…$/, 15_000);
      await expectText(page, '#connection-reason', /^Down since .*: UNAVAILABLE: /);
      assert.equal(await page.isVisible('#final-status'), false, 'a restart is not the end of the stream');
      await page.selectOption('#feature', { label: feature.name });
      await page.fill('#message', 'typed during the outage');
      await page.press('#message', 'Enter');
      await expectText(page, '#outbox', /Waiting to send \(1\)[\s\S]*typed during the outage/);
      await page.screenshot({ path: `${RESULTS}/browser-reconnecting.png` });
      owned = spawnTs('core-server/main.ts', [
        '--listen',
        `127.0.0.1:${corePort}`,
        '--metrics-listen',
        '127.0.0.1:0',
      ]);
      await owned.waitForLog('core server listening', 30_000);
      await expectText(page, '.groups', /typed during the outage/, 40_000);
      await expectText(page, '#state', /^Connected$/);
      assert.equal(await page.isVisible('#outbox'), false, 'the outbox is empty again');
      await page.close();
    } finally {
      await local.app.close();
      await owned.stop('SIGKILL');
    }
  });

  test('a gateway going away (OK + 1001) shows reconnecting, never a green "OK"', async () => {
    const local = await startGateway(core.address);
    const page = await browser.newPage();
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    await page.goto(`${local.httpUrl}/`);
    await expectText(page, '#state', /^Connected$/);
    await local.app.close();
    await expectText(page, '#state', /^Reconnecting in \d+ s…/);
    assert.equal(await page.isVisible('#final-status'), false);
    await page.close();
  });

  test('keyboard only: Tab reaches the controls in order and Enter sends', async () => {
    const page = await openPage();
    await connect(page);
    // Connecting by itself leaves the focus where it was.
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'BODY');
    const order: string[] = [];
    for (let i = 0; i < 12; i += 1) {
      await page.keyboard.press('Tab');
      order.push(
        await page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName || ''),
      );
    }
    // Connect is disabled while connected, so it is skipped; the map is one tab stop (arrow keys
    // move inside), its zoom buttons follow it.
    assert.deepEqual(order, [
      'disconnect',
      'feature',
      'SUMMARY',
      'circle',
      'zoom-in',
      'zoom-out',
      'zoom-reset',
      'latitude',
      'longitude',
      'message',
      'send',
      'SUMMARY',
    ]);
    await page.focus('#disconnect');
    await page.keyboard.press('Enter');
    await expectText(page, '#state', /^Disconnected$/);
    await page.focus('#connect');
    await page.keyboard.press('Enter');
    await expectText(page, '#state', /^Connected$/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'message');
    await page.keyboard.type('typed with keys');
    await page.keyboard.press('Enter');
    await expectText(page, '.groups', /typed with keys/);
    await page.close();
  });

  test('readable at 375px: no horizontal scroll, newest note visible without scrolling', async () => {
    const page = await openPage(375, 740);
    await connect(page);
    await sendNote(page, 'from a phone');
    await expectText(page, '.groups', /from a phone/);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    const newest = page.locator('.group .note').first();
    const box = await newest.boundingBox();
    assert.ok(box && box.y + box.height <= 740, `the newest note is below the fold (y=${box?.y})`);
    await page.screenshot({ path: `${RESULTS}/browser-375.png` });
    await page.close();
  });

  test('no script errors and no CSP violations on any page', () => {
    assert.deepEqual(problems, []);
  });
});
