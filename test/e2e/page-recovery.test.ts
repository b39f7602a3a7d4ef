/**
 * The page through restarts, in real Chromium against a real gateway in front of a real core
 * process on a real Redis note store: it connects when opened, without a click; while the core
 * or the note store is down it says why, in the words the gateway passed on; it comes back by
 * itself when they do, and a note typed meanwhile is delivered. Screenshots:
 * test-results/recovery-*.png.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { FEATURES } from '../../clients/browser/src/features.js';
import { browserAvailable, launchBrowser, RESULTS } from '../helpers/browser.js';
import { type SpawnedProcess, spawnTs } from '../helpers/core.js';
import { freePort, type RunningGateway, startGateway } from '../helpers/gateway.js';
import { type RedisServer, removeDir, startRedis } from '../helpers/redis.js';

const hasBrowser = browserAvailable('the page recovery test', 'test/e2e/page-recovery.test.ts');

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

describe('the page through core and note store restarts', { skip: !hasBrowser, timeout: 240_000 }, () => {
  let browser: Browser;
  let redis: RedisServer;
  let corePort: number;
  let core: SpawnedProcess | undefined;
  let gw: RunningGateway;
  const problems: string[] = [];
  /** A place per test: the store keeps every note, and the core replies with a place's whole list. */
  const [first, second, third] = [FEATURES[7]!, FEATURES[8]!, FEATURES[9]!];
  type Place = typeof first;

  const startCoreProcess = async () => {
    core = spawnTs('core-server/main.ts', [
      '--listen',
      `127.0.0.1:${corePort}`,
      '--metrics-listen',
      '127.0.0.1:0',
      '--note-store',
      redis.url,
      '--shutdown-grace',
      '1s',
    ]);
    await core.waitForLog('core server listening', 30_000);
  };

  const openPage = async (): Promise<{ page: Page; sockets: string[] }> => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      // A refused connection during the test's own outage is expected; anything else is a problem.
      if (message.type() === 'error' && !/WebSocket connection to .* failed/.test(message.text())) {
        problems.push(`console: ${message.text()}`);
      }
    });
    const sockets: string[] = [];
    page.on('websocket', (socket) => sockets.push(socket.url()));
    await page.goto(`${gw.httpUrl}/`);
    return { page, sockets };
  };
  const sendNote = async (page: Page, place: Place, message: string) => {
    await page.selectOption('#feature', { label: place.name });
    await page.fill('#message', message);
    await page.press('#message', 'Enter');
  };
  const groupAt = (place: Place) => `.group[data-location="${place.latitude},${place.longitude}"]`;
  const groupText = (page: Page, place: Place, pattern: RegExp, timeout?: number) =>
    expectText(page, groupAt(place), pattern, timeout);
  const live = (page: Page, timeout = 15_000) =>
    page.waitForSelector('#live-state[data-state="live"]', { timeout });

  before(async () => {
    // First: it builds the page, which the gateway serves only if it exists when the gateway starts.
    browser = await launchBrowser();
    redis = await startRedis({ appendfsync: 'always' });
    corePort = await freePort();
    await startCoreProcess();
    gw = await startGateway(`127.0.0.1:${corePort}`);
  });
  after(async () => {
    await browser?.close();
    await gw?.app.close();
    await core?.stop('SIGKILL');
    if (redis) {
      await redis.stop('SIGKILL');
      removeDir(redis);
    }
  });

  test('the page connects when opened, without anything pressed', async () => {
    const started = Date.now();
    const { page, sockets } = await openPage();
    await expectText(page, '#state', /^Connected$/);
    await live(page);
    process.stdout.write(`# connected and live ${Date.now() - started} ms after opening\n`);
    assert.equal(await page.isEnabled('#connect'), false, 'nothing to press');
    assert.equal(await page.isEnabled('#disconnect'), true);
    assert.equal(await page.isHidden('#connection-reason'), true);
    assert.deepEqual(sockets, [`${gw.httpUrl.replace(/^http/, 'ws')}/v2`]);
    await sendNote(page, first, 'straight away');
    await groupText(page, first, /straight away/);
    await page.close();
  });

  test('core restarted: the page says why while it is down, comes back by itself, delivers a note typed meanwhile', async () => {
    const { page } = await openPage();
    await expectText(page, '#state', /^Connected$/);
    await live(page);
    await core!.stop('SIGTERM');
    // The status RouteChat ended with, as the gateway passed it on.
    await expectText(page, '#state', /^Reconnecting in \d+ s…$/, 15_000);
    const reason = await expectText(
      page,
      '#connection-reason',
      /^Down since \d{1,2}:\d\d:\d\d( [AP]M)?: UNAVAILABLE: \S/,
    );
    process.stdout.write(`# core down: ${reason}\n`);
    await expectText(page, '#live-state', /^Live notes offline .*\(UNAVAILABLE: .+\)/, 15_000);
    assert.equal(await page.isVisible('#final-status'), false, 'a restart is not the end of the stream');
    await sendNote(page, second, 'typed while the core was down');
    await expectText(page, '#outbox', /Waiting to send \(1\)[\s\S]*typed while the core was down/);
    await page.screenshot({ path: `${RESULTS}/recovery-core-down.png` });

    await startCoreProcess();
    await groupText(page, second, /typed while the core was down/, 40_000);
    await expectText(page, '#state', /^Connected$/);
    await live(page, 40_000);
    assert.equal(await page.isVisible('#outbox'), false, 'the outbox is empty again');
    // Once a stream has stayed open, the reason goes.
    await page.waitForSelector('#connection-reason', { state: 'hidden', timeout: 10_000 });
    await page.close();
  });

  test('note store restarted: the page shows the store’s reason while it is down, and recovers', async () => {
    const { page } = await openPage();
    await expectText(page, '#state', /^Connected$/);
    await live(page);
    await sendNote(page, third, 'before the store went down');
    await groupText(page, third, /before the store went down/);

    await redis.stop('SIGTERM');
    // Live notes go offline at once; RouteChat learns it with the next note.
    await expectText(page, '#live-state', /^Live notes offline .*\(UNAVAILABLE: .+\)/, 15_000);
    await sendNote(page, third, 'sent while the store was down');
    const reason = await expectText(
      page,
      '#connection-reason',
      /^Down since .*: UNAVAILABLE: note not-stored: note store (unavailable|failed|closed)/,
      15_000,
    );
    process.stdout.write(`# store down: ${reason}\n`);
    assert.doesNotMatch(reason, /overloaded/);
    await expectText(page, '#state', /^Reconnecting in \d+ s…$/);
    // Certainly not stored, so it waits to go again.
    await expectText(page, '#outbox', /Waiting to send \(1\)[\s\S]*sent while the store was down/);
    assert.equal(await page.isVisible('#form-error'), false, 'not reported lost');
    await page.screenshot({ path: `${RESULTS}/recovery-store-down.png` });

    redis = await startRedis({ port: redis.port, dir: redis.dir, appendfsync: 'always' });
    await groupText(page, third, /sent while the store was down/, 40_000);
    await expectText(page, '#state', /^Connected$/);
    await live(page, 40_000);
    // The store kept the note from before the outage: the reply lists both, each once.
    assert.deepEqual(await page.locator(`${groupAt(third)} .note-text`).allTextContents(), [
      'sent while the store was down',
      'before the store went down',
    ]);
    // Live notes were off for a while: the page says notes from then are not shown.
    await expectText(page, '#gaps .gap', /notes posted meanwhile are not shown/, 15_000);
    await page.waitForSelector('#connection-reason', { state: 'hidden', timeout: 10_000 });
    await page.screenshot({ path: `${RESULTS}/recovery-store-back.png` });
    await page.close();
  });

  test('no script errors and no CSP violations', () => {
    assert.deepEqual(problems, []);
  });
});
