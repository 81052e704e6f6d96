import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { browserMissing, launchBrowser, screenshot, type TestBrowser } from '../kit/browser.js';
import { startReceiver, startServer, type Receiver, type TestServer } from '../kit/index.js';

// The support console in a real browser (Chromium), against a real server.

const missing = browserMissing();
if (missing) process.stdout.write(`# ${missing}\n`);

describe('the support console', { skip: missing ?? false }, () => {
  let s: TestServer;
  let r: Receiver;
  let b: TestBrowser;
  let origin: string;

  before(async () => {
    s = await startServer('console', { env: { HOOKLINE_ALLOW_PRIVATE_DESTINATIONS: 'true' } });
    r = await startReceiver();
    b = await launchBrowser();
    origin = new URL(s.url).origin;
  });
  after(async () => {
    await b?.close();
    await s?.stop();
    await r?.close();
  });

  async function signIn(token: string): Promise<Page> {
    const page = await b.page();
    await page.goto(`${origin}/console`);
    await page.getByLabel('API key').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    return page;
  }

  it('is served with a strict Content-Security-Policy, not frameable, no inline script', async () => {
    const res = await fetch(`${origin}/console`);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /connect-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'every script has a src');
  });

  it('signs in with a SUPPORT key: the header names the key and its role, the live link connects', async () => {
    const page = await signIn(s.keys.SUPPORT);
    await page.getByLabel('Signed in as').filter({ hasText: 'SUPPORT' }).waitFor();
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await page.getByText('live: connected').waitFor();
    assert.equal(
      await page.evaluate(() =>
        (globalThis as unknown as { location: { href: string } }).location.href.includes('hkl_'),
      ),
      false,
      'the key is never in the URL',
    );
    await screenshot(page, 'webhooks');
    await page.close();
  });
});
