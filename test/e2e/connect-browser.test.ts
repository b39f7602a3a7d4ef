/**
 * The Connect transport in real Chromium: createClient over the protoc-gen-es code, bundled by
 * esbuild as an application would bundle it, runs a bidi RouteChat through the gateway to a real
 * core, over JSON and over binary frames (the browser's own WebSocket, no polyfill).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { SEED_NOTES, SEED_REPLY_MESSAGES } from '../../clients/seed-notes.js';
import { browserAvailable, CHROMIUM } from '../helpers/browser.js';
import { REPO_ROOT, type RunningCore, startCore } from '../helpers/core.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';

const hasBrowser = browserAvailable('the Connect transport browser test', 'test/e2e/connect-browser.test.ts');

/** The page's script: RouteChat through createClient, its replies and the socket's subprotocol. */
const ENTRY = `
import { createClient } from '@connectrpc/connect';
import { createGatewayTransport } from './clients/lib/connect/index.js';
import { RouteGuide } from './proto/es/route_guide_pb.js';

async function* each(items) {
  for (const item of items) yield item;
}

window.routeChat = async (baseUrl, notes, useBinaryFormat) => {
  const transport = createGatewayTransport({ baseUrl, useBinaryFormat });
  try {
    const client = createClient(RouteGuide, transport);
    const replies = [];
    for await (const reply of client.routeChat(each(notes))) replies.push(reply.message);
    const state = transport.state;
    return { replies, protocol: state.name === 'open' ? state.protocol : state.name };
  } finally {
    transport.close();
  }
};
`;

describe('the Connect transport in Chromium', { skip: !hasBrowser, timeout: 120_000 }, () => {
  let browser: Browser;
  let bundle: string;

  before(async () => {
    const built = await build({
      stdin: { contents: ENTRY, resolveDir: REPO_ROOT, loader: 'js', sourcefile: 'connect-page.js' },
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    bundle = built.outputFiles[0]?.text ?? '';
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
  });
  after(async () => {
    await browser?.close();
  });

  for (const useBinaryFormat of [false, true]) {
    test(`a bidi RouteChat through createClient gives the seed's replies (${useBinaryFormat ? 'binary' : 'JSON'} frames)`, async () => {
      // A fresh core: the seed's replies are its sequence only on a new one.
      const core: RunningCore = await startCore();
      const gateway: RunningGateway = await startGateway(core.address);
      // The test's script is inline; the gateway's CSP (script-src 'self') would refuse it.
      const page = await browser.newPage({ bypassCSP: true });
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(error.message));
      try {
        // The gateway's own origin, as a page it serves would have.
        await page.goto(`${gateway.httpUrl}/healthz`);
        await page.addScriptTag({ content: bundle });
        const result = await page.evaluate(
          ([baseUrl, notes, binary]) =>
            (
              window as unknown as {
                routeChat(
                  u: string,
                  n: unknown,
                  b: boolean,
                ): Promise<{ replies: string[]; protocol: string }>;
              }
            ).routeChat(baseUrl, notes, binary),
          [gateway.httpUrl, SEED_NOTES, useBinaryFormat] as const,
        );
        assert.deepEqual(result.replies, SEED_REPLY_MESSAGES);
        assert.equal(result.protocol, useBinaryFormat ? 'gateway.v2.binary' : 'gateway.v2');
        assert.deepEqual(problems, []);
      } finally {
        await page.close();
        await gateway.app.close();
        await core.stop();
      }
    });
  }
});
