import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { buildBrowserClient } from '../../clients/browser/build.js';
import { FEATURES } from '../../clients/browser/src/features.js';
import { REPO_ROOT, type RunningCore, startCore } from '../helpers/core.js';
import { freePort, type RunningGateway, startGateway } from '../helpers/gateway.js';

const CHROMIUM = '/usr/bin/chromium';
const RESULTS = `${REPO_ROOT}test-results`;
const hasBrowser = existsSync(CHROMIUM);

if (!hasBrowser) {
  const message = `\n*** ${CHROMIUM} is missing: the browser test cannot run (apt-get install chromium). ***\n`;
  if (process.env.CI === 'true') throw new Error(`${message}Under CI=true a missing browser is a failure.`);
  process.stderr.write(`${message}*** Skipping test/e2e/browser.test.ts. ***\n\n`);
}

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

  const openPage = async (width = 1100, height = 760): Promise<Page> => {
    const page = await browser.newPage({ viewport: { width, height } });
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    await page.goto(`${gw.httpUrl}/`);
    return page;
  };
  const connect = async (page: Page) => {
    await page.click('#connect');
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
    await buildBrowserClient();
    await mkdir(RESULTS, { recursive: true });
    core = await startCore();
    gw = await startGateway(core.address);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
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

  test('a bad latitude reaches the gateway and its error is shown next to the form', async () => {
    const page = await openPage();
    await connect(page);
    await page.fill('#latitude', 'north-ish');
    await page.fill('#message', 'lost');
    await page.press('#message', 'Enter');
    await expectText(page, '#form-error', /gateway rejected the note \(INVALID_ARGUMENT\)/);
    assert.match((await page.textContent('#form-error')) ?? '', /location\.latitude/);
    assert.equal(await page.getAttribute('#latitude', 'aria-invalid'), 'true');
    assert.match((await page.textContent('#latitude-error')) ?? '', /int32/);
    await page.screenshot({ path: `${RESULTS}/browser-error.png` });
    // The stream stays open, and the error clears on the next good send.
    assert.equal(await page.textContent('#state'), 'Connected');
    await page.selectOption('#feature', { label: feature.name });
    await page.fill('#message', 'found my way');
    await page.press('#message', 'Enter');
    await expectText(page, '.groups', /found my way/);
    assert.equal(await page.isVisible('#form-error'), false);
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
    assert.equal(await page.isEnabled('#connect'), true);
    await page.close();
  });

  test('a gateway whose core is down shows UNAVAILABLE and close code 4014', async () => {
    const down = await startGateway(`127.0.0.1:${await freePort()}`);
    try {
      const page = await browser.newPage();
      await page.goto(`${down.httpUrl}/`);
      await page.click('#connect');
      await expectText(page, '#final-status', /UNAVAILABLE \(14\).*close code 4014/);
      await page.close();
    } finally {
      await down.app.close();
    }
  });

  test('keyboard only: Tab reaches the controls in order and Enter sends', async () => {
    const page = await openPage();
    const order: string[] = [];
    for (let i = 0; i < 7; i += 1) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(() => document.activeElement?.id ?? ''));
    }
    // Disconnect is disabled, so it is skipped.
    assert.deepEqual(order, ['connect', 'feature', 'latitude', 'longitude', 'message', 'send', '']);
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
