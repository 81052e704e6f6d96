import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoPath } from './paths.js';

// A real browser for the console's tests: Debian's Chromium driven by
// playwright-core (never `playwright`, which downloads a browser of its own).
// It stays on loopback: every name but localhost resolves to nothing, and a
// proxy on 127.0.0.1 that refuses every connection takes what would leave
// (loopback itself bypasses proxies). Without Chromium the tests are skipped
// with one line, unless HOOKLINE_REQUIRE_BROWSER=1 (CI), where that is a failure.

export const CHROMIUM = process.env.HOOKLINE_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots of each screen land here (not committed). */
export const SCREENSHOTS = repoPath('test-output/console');

export function browserMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const line = `console browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`;
  if (process.env.HOOKLINE_REQUIRE_BROWSER === '1') throw new Error(`${line}, and HOOKLINE_REQUIRE_BROWSER=1`);
  return line;
}

export interface TestBrowser {
  browser: Browser;
  /** A fresh page (its own context: its own sessionStorage). */
  page(): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const refuser = net.createServer((socket) => socket.destroy());
  await new Promise<void>((r) => refuser.listen(0, '127.0.0.1', r));
  const proxyPort = (refuser.address() as net.AddressInfo).port;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
      `--proxy-server=http://127.0.0.1:${proxyPort}`,
    ],
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    browser,
    page: async () => (await browser.newContext({ viewport: { width: 1280, height: 860 } })).newPage(),
    close: async () => {
      await browser.close();
      await new Promise<void>((r) => refuser.close(() => r()));
    },
  };
}

/** A full-page PNG of the screen, named for it. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** A fresh page signed in to the console at `origin` with `token` (the sign-in button clicked, not awaited further). */
export async function signedIn(b: TestBrowser, origin: string, token: string): Promise<Page> {
  const page = await b.page();
  await page.goto(`${origin}/console`);
  await page.getByLabel('API key').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  return page;
}
