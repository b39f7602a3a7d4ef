/**
 * Real Chromium for the page's tests (Debian's `chromium`, driven by playwright-core): the binary,
 * the folder for screenshots, the missing-browser rule (skip here, fail under CI=true), and one
 * launch with the page built first.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { type Browser, chromium } from 'playwright-core';
import { buildBrowserClient } from '../../clients/browser/build.js';
import { REPO_ROOT } from './core.js';

export const CHROMIUM = '/usr/bin/chromium';
export const RESULTS = `${REPO_ROOT}test-results`;

/** Whether Chromium is here; when not, says so (and throws under CI=true, where that is a failure). */
export function browserAvailable(what: string, file: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  const message = `\n*** ${CHROMIUM} is missing: ${what} cannot run (apt-get install chromium). ***\n`;
  if (process.env.CI === 'true') throw new Error(`${message}Under CI=true a missing browser is a failure.`);
  process.stderr.write(`${message}*** Skipping ${file}. ***\n\n`);
  return false;
}

/**
 * Builds the page (clients/browser), makes the screenshot folder and launches headless Chromium.
 * Call it before starting the gateway: a gateway serves the page only if it is built when it starts.
 */
export async function launchBrowser(): Promise<Browser> {
  await buildBrowserClient();
  await mkdir(RESULTS, { recursive: true });
  return chromium.launch({
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
}
