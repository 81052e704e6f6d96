import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { browserMissing, launchBrowser, screenshot, signedIn, type TestBrowser } from '../kit/browser.js';
import {
  createWebhook,
  eventually,
  must,
  publish,
  startReceiver,
  startServer,
  uniquePath,
  type Receiver,
  type TestServer,
} from '../kit/index.js';

// The console shows a destination's circuit breaker where support looks first:
// on the webhook list and on the webhook's page, with when the next probe goes.

const missing = browserMissing();
if (missing) process.stdout.write(`# ${missing}\n`);

describe('the console shows the circuit breaker', { skip: missing ?? false }, () => {
  let s: TestServer;
  let r: Receiver;
  let b: TestBrowser;

  before(async () => {
    s = await startServer('console_protection');
    r = await startReceiver();
    b = await launchBrowser();
  });
  after(async () => {
    await b?.close();
    await s?.stop();
    await r?.close();
  });

  const circuitState = async (id: string) =>
    (await s.db.pool.query<{ state: string }>('SELECT circuit_state AS state FROM webhooks WHERE id = $1', [id]))
      .rows[0]!.state;

  it('an open circuit on the list and the page, with its next probe; closed again once a probe succeeds', async () => {
    const path = uniquePath('console-failing');
    let down = true;
    r.on(path, () => ({ status: down ? 503 : 200 }));
    const failing = await createWebhook(s, {
      url: `${r.url}${path}`,
      name: 'Failing LMS',
      subs: [['USERS', 'CREATE']],
    });
    await createWebhook(s, { url: `${r.url}/fine`, name: 'Fine LMS', subs: [] });
    must(
      await s.gql('mutation($id: ID!) { updateWebhook(id: $id, input: {rateLimit: 50}) { id } }', { id: failing.id }),
      'updateWebhook',
    );
    for (let i = 0; i < 12; i++) await publish(s, 'USERS', 'CREATE', { id: `c${i}` });
    await eventually(async () => (await circuitState(failing.id)) === 'OPEN', 15_000, 'the circuit to open');

    const page = await signedIn(b, new URL(s.url).origin, s.keys.SUPPORT);
    const row = page.getByRole('row', { name: /Failing LMS/ });
    await row.getByLabel('Circuit').waitFor();
    assert.equal(await row.getByLabel('Circuit').textContent(), 'circuit open');
    assert.equal(
      await page
        .getByRole('row', { name: /Fine LMS/ })
        .getByLabel('Circuit')
        .count(),
      0,
    );

    await row.getByRole('link', { name: 'Failing LMS' }).click();
    const card = page.getByRole('region', { name: 'Protection' });
    await card.waitFor();
    await screenshot(page, 'webhook-circuit-open');
    const text = (await card.textContent()) ?? '';
    assert.match(text, /circuit open/);
    assert.match(text, /Next probe/);
    assert.match(text, /Rate limit50 requests\/s/);
    const failures = Number(/Failures in a row(\d+)/.exec(text)?.[1]);
    assert.ok(failures >= 10, text);

    down = false;
    await s.db.pool.query(`UPDATE webhooks SET circuit_next_probe_at = now() WHERE id = $1`, [failing.id]);
    await eventually(async () => (await circuitState(failing.id)) === 'CLOSED', 15_000, 'the circuit to close');
    await page.reload();
    await card.waitFor();
    assert.match((await card.textContent()) ?? '', /closed: sending normally/);
    assert.equal(await page.getByLabel('Circuit').count(), 0);
  });
});
