import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { browserMissing, launchBrowser, screenshot, type TestBrowser } from '../kit/browser.js';
import {
  eventually,
  must,
  publish,
  receivedAt,
  startReceiver,
  startServer,
  type Receiver,
  type TestServer,
  v1Verifies,
} from '../kit/index.js';

// The support console in a real browser (Chromium), against a real server and
// a real receiver: what a support person does during a day, in order. Each
// step checks the result through the API or at the receiver, not only on the
// page.

const missing = browserMissing();
if (missing) process.stdout.write(`# ${missing}\n`);

/** Buttons a read-only key may use: navigation, search, the live stream's own pause. */
const READ_ONLY_BUTTONS = new Set(['Sign out', 'Search', 'Filter', 'Pause', 'Count deliveries', 'Copy']);

describe('the support console', { skip: missing ?? false }, () => {
  let s: TestServer;
  let r: Receiver;
  let b: TestBrowser;
  let origin: string;
  let support: Page;
  let webhookId: string;
  let secret: string;
  const path = '/console-hook';

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

  async function signIn(token: string, shot?: string): Promise<Page> {
    const page = await b.page();
    await page.goto(`${origin}/console`);
    await page.getByLabel('API key').fill(token);
    if (shot) await screenshot(page, shot);
    await page.getByRole('button', { name: 'Sign in' }).click();
    return page;
  }

  const open = async (page: Page, hash: string) => {
    await page.evaluate((h) => {
      (globalThis as unknown as { location: { hash: string } }).location.hash = h;
    }, hash);
  };

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
    support = await signIn(s.keys.SUPPORT, 'sign-in');
    await support.getByLabel('Signed in as').filter({ hasText: 'SUPPORT' }).waitFor();
    await support.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await support.getByText('live: connected').waitFor();
    const stored = await support.evaluate(() => {
      const g = globalThis as unknown as { location: { href: string }; localStorage: { length: number } };
      return { href: g.location.href, local: g.localStorage.length };
    });
    assert.equal(stored.href.includes('hkl_'), false, 'the key is never in the URL');
    assert.equal(stored.local, 0, 'nothing in localStorage (the key lives in sessionStorage only)');
  });

  it('creates a webhook through the grid: a refused filter is shown at its field, nothing is created, then a generated secret is shown once', async () => {
    await support.getByRole('button', { name: 'New webhook' }).click();
    await support.getByRole('heading', { name: 'New webhook' }).waitFor();
    await support.getByLabel('Name').fill('Console CRM');
    await support.getByLabel('Destination URL').fill(`${r.url}${path}`);
    await support.getByRole('checkbox', { name: 'user.created', exact: true }).check();
    await support.getByRole('checkbox', { name: 'enrollment.completed', exact: true }).check();
    const filter = support.getByLabel('Filter for enrollment.completed');
    await filter.fill('{"state": {"$in": "complete"}}');
    await support.getByRole('button', { name: 'Create webhook' }).click();

    // enrollment.completed went second: the server's message about subscriptions[1] lands at its filter.
    const message = support.locator('label', { has: filter }).getByRole('alert');
    await message.waitFor();
    const text = (await message.textContent()) ?? '';
    assert.match(text, /^input\.subscriptions\[1\]\.filter.*expected an array/, text);
    await screenshot(support, 'webhook-new');
    const none = must(await s.gql('{ webhooks { totalCount } }'), 'webhooks');
    assert.equal(none.webhooks.totalCount, 0, 'a refused create leaves nothing behind');

    await filter.fill('{"state": "complete"}');
    await support.getByRole('button', { name: 'Create webhook' }).click();
    const shown = support.getByLabel('HMAC secret', { exact: true }).and(support.locator('code'));
    secret = (await shown.textContent()) ?? '';
    assert.match(secret, /^whsec_/);
    await support.getByText('shown only this once').waitFor();

    const list = must(
      await s.gql('{ webhooks { edges { node { id name hasHmacSecret subscriptions { eventType filter } } } } }'),
      'webhooks',
    ).webhooks.edges;
    assert.equal(list.length, 1);
    const w = list[0].node;
    webhookId = w.id;
    assert.equal(w.name, 'Console CRM');
    assert.equal(w.hasHmacSecret, true);
    assert.deepEqual(
      w.subscriptions.map((x: { eventType: string; filter: unknown }) => [x.eventType, x.filter]).sort(),
      [
        ['enrollment.completed', { state: 'complete' }],
        ['user.created', null],
      ],
    );
    const session = await support.evaluate(() =>
      JSON.stringify((globalThis as unknown as { sessionStorage: object }).sessionStorage),
    );
    assert.equal(session.includes(secret), false, 'the generated secret is not kept in storage');

    await support.getByRole('button', { name: 'I have stored it' }).click();
    await open(support, '#/webhooks');
    await support.getByRole('link', { name: 'Console CRM' }).waitFor();
    await screenshot(support, 'webhooks');
    await support.getByLabel('Name or URL').fill('no such hook');
    await support.getByRole('button', { name: 'Search' }).click();
    await support.getByText('0 webhooks', { exact: true }).waitFor();
    await support.getByLabel('Name or URL').fill('CONSOLE-HOOK');
    await support.getByRole('button', { name: 'Search' }).click();
    await support.getByText('1 webhook', { exact: true }).waitFor();
    await support.getByRole('link', { name: 'Console CRM' }).click();
    await support.getByRole('heading', { name: 'Console CRM' }).waitFor();
  });

  it('shows an attempt in Live as it happens, without a reload, signed with the secret it showed', async () => {
    await open(support, '#/live');
    await support.getByText('Connection: connected').waitFor();
    await support.getByText('Waiting for attempts…').waitFor();
    await publish(s, 'ENROLLMENTS', 'COMPLETE', { id: 42, state: 'complete' });
    const row = support.getByRole('table', { name: 'Attempts' }).getByRole('row').filter({ hasText: 'SUCCESS' });
    await row.first().waitFor();
    assert.match((await row.first().textContent()) ?? '', /Console CRM.*1.*SUCCESS.*200/);
    const got = await eventually(() => receivedAt(r, path)[0]);
    assert.equal(
      v1Verifies(secret, got),
      true,
      'the receiver verifies the delivery with the secret the console showed',
    );
    await screenshot(support, 'live');
  });

  it('finds the delivery by object id, opens its timeline and redelivers it', async () => {
    await open(support, '#/deliveries');
    await support.getByLabel('Object id').fill('42');
    await support.getByRole('button', { name: 'Search' }).click();
    const rows = support.getByRole('link', { name: /^Delivery / });
    await eventually(async () => (await rows.count()) === 1 || undefined);
    assert.match(
      (await support.locator('tbody').textContent()) ?? '',
      /enrollment\.completed.*42.*Console CRM.*SUCCEEDED/,
    );
    await screenshot(support, 'deliveries');

    await rows.first().click();
    const timeline = support.getByRole('list', { name: 'Timeline' });
    await timeline.getByText('Attempt 1').waitFor();
    assert.match((await timeline.textContent()) ?? '', /Published.*Attempt 1.*SUCCESS · HTTP 200.*Delivered/s);
    await support.getByRole('button', { name: 'Redeliver' }).click();
    await timeline.getByText('Attempt 2').waitFor();
    await eventually(() => receivedAt(r, path).length === 2 || undefined);
    await screenshot(support, 'timeline');
  });

  it("replay shows the dry run's count, the same the API gives, before the confirm button", async () => {
    await open(support, `#/webhooks/${webhookId}`);
    await support.getByRole('heading', { name: 'Console CRM' }).waitFor();
    await support.getByLabel('Scope').selectOption('ALL');
    assert.equal(await support.getByRole('button', { name: /^Replay \d/ }).count(), 0, 'no confirm before a count');
    await support.getByRole('button', { name: 'Count deliveries' }).click();
    await support.getByText('1 delivery would be sent again.').waitFor();
    const since = new Date(Date.now() - 25 * 3600_000).toISOString();
    const api = must(
      await s.gql(
        'mutation($w: ID!, $s: DateTimeISO!) { replayDeliveries(webhookId: $w, since: $s, scope: ALL, dryRun: true) { count } }',
        {
          w: webhookId,
          s: since,
        },
      ),
      'replay',
    );
    assert.equal(api.replayDeliveries.count, 1);
    await support.getByRole('button', { name: 'Replay 1 delivery' }).click();
    await support.getByText('Replaying 1 delivery').waitFor();
    await eventually(() => receivedAt(r, path).length === 3 || undefined, 15_000);
  });

  it('rotates the HMAC secret with an overlap: both secrets sign until it ends', async () => {
    await support.getByLabel('Overlap when rotating').selectOption('86400');
    await support.getByRole('button', { name: 'Rotate HMAC secret' }).click();
    const fresh =
      (await support.getByLabel('New HMAC secret', { exact: true }).and(support.locator('code')).textContent()) ?? '';
    assert.match(fresh, /^whsec_/);
    assert.notEqual(fresh, secret);
    await support.getByText('The previous secret or key also signs until').waitFor();
    await screenshot(support, 'webhook');
    await support.getByRole('button', { name: 'I have stored it' }).click();

    const before = receivedAt(r, path).length;
    await publish(s, 'USERS', 'CREATE', { id: 'u-7' });
    const got = await eventually(() => receivedAt(r, path)[before]);
    assert.equal(v1Verifies(fresh, got), true, 'the new secret verifies');
    assert.equal(v1Verifies(secret, got), true, 'the previous secret still verifies during the overlap');
  });

  it('charts the attempts of the last 24 hours, as Webhook.stats counts them', async () => {
    await support.reload();
    const chart = support.getByRole('img', { name: /Attempts and failures per hour/ });
    await chart.waitFor();
    const stats = must(
      await s.gql('query($id: ID!) { webhook(id: $id) { stats(hours: 24) { attempts failed } } }', { id: webhookId }),
      'stats',
    ).webhook.stats;
    assert.ok(stats.attempts >= 4);
    assert.equal(
      await chart.getAttribute('aria-label'),
      `Attempts and failures per hour over the last 24 hours: ${stats.attempts} attempts, ${stats.failed} failed`,
    );
  });

  it('edits subscriptions in place: a refused filter is shown at its field and changes nothing; a valid one is saved in one call', async () => {
    const subs = async () =>
      must(
        await s.gql('query($id: ID!) { webhook(id: $id) { subscriptions { id eventType filter } } }', {
          id: webhookId,
        }),
        'webhook',
      ).webhook.subscriptions as { id: string; eventType: string; filter: unknown }[];
    const before = await subs();
    const section = support.getByRole('region', { name: 'Subscriptions' });
    const filter = section.getByLabel('Filter for enrollment.completed');
    await filter.fill('{"state": {"$in": "active"}}');
    await section.getByRole('button', { name: 'Save subscriptions' }).click();
    // has: is resolved inside each label, so it is a locator from the page, not from the section.
    const message = section
      .locator('label', { has: support.getByLabel('Filter for enrollment.completed') })
      .getByRole('alert');
    await message.waitFor();
    assert.match((await message.textContent()) ?? '', /^subscriptions\[\d\]\.filter.*expected an array/);
    assert.deepEqual(await subs(), before, 'a refused change leaves the subscriptions as they were');

    await filter.fill('{"state": {"$in": ["complete", "failed"]}}');
    await section.getByRole('checkbox', { name: 'course.created', exact: true }).check();
    await section.getByRole('button', { name: 'Save subscriptions' }).click();
    // Saved once the page has read the webhook back and has nothing left to save (the button is also
    // disabled while the request runs, so it alone would not tell).
    await section.getByText(/to add, .* to remove/).waitFor({ state: 'detached' });
    const after = await subs();
    const completed = after.find((x) => x.eventType === 'enrollment.completed')!;
    assert.deepEqual(completed.filter, { state: { $in: ['complete', 'failed'] } });
    assert.equal(completed.id, before.find((x) => x.eventType === 'enrollment.completed')!.id, 'changed in place');
    assert.deepEqual(after.map((x) => x.eventType).sort(), ['course.created', 'enrollment.completed', 'user.created']);
  });

  it('tells the watcher when the server closes the live feed with 4408, and reconnects by itself', async () => {
    const page = await b.page();
    let dropped = false;
    await page.routeWebSocket(/\/graphql$/, (ws) => {
      const server = ws.connectToServer();
      if (dropped) return;
      dropped = true;
      // The first connection: pass everything until the subscription starts, then close as a slow subscriber would be.
      ws.onMessage((m) => {
        server.send(m);
        if (String(m).includes('"subscribe"') && String(m).includes('LiveAttempts')) {
          setTimeout(() => void ws.close({ code: 4408, reason: 'Subscriber too slow' }), 200);
        }
      });
    });
    await page.goto(`${origin}/console#/live`);
    await page.getByLabel('API key').fill(s.keys.VIEWER);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: '(4408: too slow to keep up). Reconnecting…' }).waitFor();
    await page.getByText('Connection: connected').waitFor({ timeout: 15_000 });
    await page.getByRole('status').filter({ hasText: 'Reconnected.' }).waitFor();
    await publish(s, 'USERS', 'CREATE', { id: 'u-8' });
    await page
      .getByRole('table', { name: 'Attempts' })
      .getByRole('row')
      .filter({ hasText: 'SUCCESS' })
      .first()
      .waitFor();
    await page.close();
  });

  it('a VIEWER sees every screen, with no enabled write action and the reason on each', async () => {
    const viewer = await signIn(s.keys.VIEWER);
    await viewer.getByLabel('Signed in as').filter({ hasText: 'VIEWER' }).waitFor();
    const deliveryId = must(
      await s.gql('query($w: ID!) { deliveries(webhookId: $w, first: 1) { edges { node { id } } } }', { w: webhookId }),
      'deliveries',
    ).deliveries.edges[0].node.id;
    for (const [hash, ready] of [
      ['#/webhooks', 'Console CRM'],
      [`#/webhooks/${webhookId}`, 'Secrets'],
      ['#/webhooks/new', 'Subscriptions'],
      ['#/deliveries', 'SUCCEEDED'],
      [`#/deliveries/${deliveryId}`, 'Redeliver'],
      ['#/live', 'Connection: connected'],
    ] as const) {
      await open(viewer, hash);
      await viewer.getByText(ready).filter({ visible: true }).first().waitFor();
      const enabled = await viewer.locator('button:enabled, input[type=checkbox]:enabled').evaluateAll((els) =>
        els.map((e) => {
          type El = { textContent: string | null; getAttribute(n: string): string | null };
          const el = e as unknown as El & { closest(s: string): El | null };
          return (el.textContent || el.getAttribute('aria-label') || el.closest('label')?.textContent || '?').trim();
        }),
      );
      const writes = enabled.filter((name) => !READ_ONLY_BUTTONS.has(name));
      assert.deepEqual(writes, [], `${hash}: enabled write actions ${JSON.stringify(writes)}`);
      const disabled = viewer.locator('button:disabled').first();
      if (await disabled.count())
        assert.match((await disabled.getAttribute('title')) ?? '', /^Read-only: the VIEWER key/);
    }
    assert.equal(await viewer.getByRole('link', { name: 'API keys' }).count(), 0, 'no SUPPORT-only screen offered');
    await open(viewer, `#/webhooks/${webhookId}`);
    await viewer.getByRole('button', { name: 'Pause' }).waitFor();
    assert.equal(await viewer.getByRole('button', { name: 'Pause' }).isDisabled(), true);
    await screenshot(viewer, 'viewer-webhook');
    await viewer.close();
  });

  it('tells a PUBLISHER key that the console needs VIEWER or SUPPORT', async () => {
    const page = await signIn(s.keys.PUBLISHER);
    await page.getByRole('alert').filter({ hasText: 'needs a VIEWER or SUPPORT key' }).waitFor();
    assert.equal(await page.getByRole('navigation').count(), 0);
    await page.close();
  });

  it('the audit log shows what this test did, by whom, filterable by target', async () => {
    await open(support, `#/audit`);
    const table = support.getByRole('table', { name: 'Audit entries' });
    await table.getByText('webhook.created').waitFor();
    const text = (await table.textContent()) ?? '';
    for (const action of ['webhook.created', 'delivery.redelivered', 'deliveries.replayed', 'webhook.secret_rotated']) {
      assert.match(text, new RegExp(action.replace('.', '\\.')), action);
    }
    assert.doesNotMatch(text, /whsec_/, 'no secret in the audit log');
    await support.getByLabel('Target id').fill(webhookId);
    await support.getByRole('button', { name: 'Filter' }).click();
    await eventually(async () => !(await table.textContent())?.includes('delivery.redelivered') || undefined);
    const targets = await table.locator('tbody tr td:nth-child(4)').allTextContents();
    assert.ok(targets.length >= 3, JSON.stringify(targets));
    assert.ok(
      targets.every((t) => t.includes(webhookId)),
      JSON.stringify(targets),
    );
    await screenshot(support, 'audit');
  });

  it('creates an API key (token shown once, works) and revokes it after a confirm (refused at once)', async () => {
    await open(support, '#/keys');
    await support.getByLabel('Key name').fill('wallboard');
    await support.getByLabel('Role').selectOption('VIEWER');
    await support.getByRole('button', { name: 'Create key' }).click();
    const token = (await support.getByLabel('Token of “wallboard”').and(support.locator('code')).textContent()) ?? '';
    assert.match(token, /^hkl_/);
    const viewerOf = (t: string) => s.gql('{ viewer { name role } }', {}, t);
    assert.deepEqual(must(await viewerOf(token), 'viewer').viewer, { name: 'wallboard', role: 'VIEWER' });
    await support.getByRole('button', { name: 'I have stored it' }).click();
    await screenshot(support, 'keys');

    const row = support.getByRole('row').filter({ hasText: 'wallboard' });
    await row.getByRole('button', { name: 'Revoke' }).click();
    assert.equal((await viewerOf(token)).errors, undefined, 'not revoked before the confirm');
    await row.getByRole('button', { name: 'Confirm: revoke wallboard' }).click();
    await row.getByText('revoked').waitFor();
    assert.equal((await viewerOf(token)).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
  });

  it('signs out: the key leaves sessionStorage', async () => {
    await support.getByRole('button', { name: 'Sign out' }).click();
    await support.getByLabel('API key').waitFor();
    assert.equal(
      await support.evaluate(
        () => (globalThis as unknown as { sessionStorage: { length: number } }).sessionStorage.length,
      ),
      0,
    );
    await support.close();
  });
});
