import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { browserMissing, launchBrowser, screenshot, type TestBrowser } from '../kit/browser.js';
import { createWebhook, eventually, must, startServer, type TestServer } from '../kit/index.js';

// Accounts in the console (contract rev 3), in a real browser against a real
// server: an unscoped SUPPORT key manages accounts and looks at one at a time;
// a key scoped to an account sees that account only. Each step is checked
// through the API too. Its own file, so it runs beside console.test.ts.

const missing = browserMissing();
if (missing) process.stdout.write(`# ${missing}\n`);

const DESTINATION = 'http://127.0.0.1:9/accounts-hook';

describe('accounts in the console', { skip: missing ?? false }, () => {
  let s: TestServer;
  let b: TestBrowser;
  let origin: string;

  before(async () => {
    s = await startServer('console-accounts');
    b = await launchBrowser();
    origin = new URL(s.url).origin;
  });
  after(async () => {
    await b?.close();
    await s?.stop();
  });

  async function signIn(token: string): Promise<Page> {
    const page = await b.page();
    await page.goto(`${origin}/console`);
    await page.getByLabel('API key').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
    return page;
  }

  const open = async (page: Page, hash: string) => {
    await page.evaluate((h) => {
      (globalThis as unknown as { location: { hash: string } }).location.hash = h;
    }, hash);
  };

  const accountByKey = async (key: string) =>
    must(await s.gql('query($k: String!) { account(key: $k) { id key name } }', { k: key }), 'account').account as {
      id: string;
      key: string;
      name: string;
    } | null;

  it('an unscoped SUPPORT key creates an account, renames it, works in it and deletes it by typing its key', async () => {
    const page = await signIn(s.keys.SUPPORT);
    const picker = page.getByRole('combobox', { name: 'Account', exact: true });
    assert.equal(await picker.inputValue(), '', 'every account to begin with');
    await open(page, '#/accounts');
    await page.getByRole('heading', { name: 'Accounts' }).waitFor();
    const newAccount = page.getByRole('form', { name: 'New account' });
    // Not exact: a field's label also holds the server's message about it.
    const keyField = newAccount.getByLabel('Account key');
    const nameField = newAccount.getByLabel('Account name');

    // Refused: a key with a space, then a key that is taken; the server's message shows, nothing is created.
    await keyField.fill('acme corp');
    await nameField.fill('Acme');
    await newAccount.getByRole('button', { name: 'Create account' }).click();
    const badKey = newAccount.getByRole('alert');
    await badKey.waitFor();
    assert.match((await badKey.textContent()) ?? '', /^input\.key: expected/, 'the message names the field');
    assert.equal(await accountByKey('acme corp'), null);
    await keyField.fill('default');
    await newAccount.getByRole('button', { name: 'Create account' }).click();
    await newAccount
      .getByRole('alert')
      .filter({ hasText: /key default exists/ })
      .waitFor();

    await keyField.fill('acme');
    await newAccount.getByRole('button', { name: 'Create account' }).click();
    const accounts = page.getByRole('table', { name: 'Accounts' });
    const row = accounts.getByRole('row').filter({ has: page.getByText('acme', { exact: true }) });
    await row.waitFor();
    assert.equal((await accountByKey('acme'))?.name, 'Acme');

    await row.getByRole('button', { name: 'Rename' }).click();
    await row.getByLabel('New name of acme').fill('Acme Corp');
    await row.getByRole('button', { name: 'Save name' }).click();
    await row.getByText('Acme Corp', { exact: true }).waitFor();
    assert.equal((await accountByKey('acme'))?.name, 'Acme Corp');
    const acme = (await accountByKey('acme'))!;

    await page.getByLabel('Key or name', { exact: true }).fill('CORP');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('1 account', { exact: true }).waitFor();
    assert.equal(await accounts.getByText('default', { exact: true }).count(), 0, 'found by name, alone');
    await screenshot(page, 'accounts');

    // The header's picker searches by key, then the account is chosen: new webhooks go there.
    await page.getByLabel('Find account', { exact: true }).fill('acm');
    await page.getByLabel('Find account', { exact: true }).press('Enter');
    await eventually(
      async () =>
        (await picker.locator('option').allTextContents()).join('|') === 'All accounts|Acme Corp (acme)' || undefined,
    );
    await picker.selectOption({ label: 'Acme Corp (acme)' });
    await createWebhook(s, { name: 'Default hook', url: DESTINATION });

    await open(page, '#/webhooks/new');
    await page.getByText('In the account Acme Corp (acme).').waitFor();
    await page.getByLabel('Name', { exact: true }).fill('Acme hook');
    await page.getByLabel('Destination URL').fill(DESTINATION);
    await page.getByRole('button', { name: 'Create webhook' }).click();
    await page.getByRole('link', { name: 'Open the webhook' }).click();
    await page.getByRole('heading', { name: 'Acme hook' }).waitFor();
    await page.getByText('Account: Acme Corp (acme)', { exact: true }).waitFor();
    const inAcme = must(
      await s.gql('query($a: ID) { webhooks(accountId: $a) { edges { node { id name account { key } } } } }', {
        a: acme.id,
      }),
      'webhooks',
    ).webhooks.edges.map((e: { node: { name: string; account: { key: string } } }) => e.node);
    assert.deepEqual(
      inAcme.map((w: { name: string }) => w.name),
      ['Acme hook'],
    );

    // The list is filtered by the chosen account; every account shows both.
    await open(page, '#/webhooks');
    await page.getByText('1 webhook', { exact: true }).waitFor();
    await page.getByRole('link', { name: 'Acme hook' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Default hook' }).count(), 0);
    await screenshot(page, 'webhooks-of-account');
    await picker.selectOption({ label: 'All accounts' });
    await page.getByText('2 webhooks', { exact: true }).waitFor();
    await page.getByRole('link', { name: 'Default hook' }).waitFor();

    // A key made while the account is chosen is scoped to it, and the list says so.
    await picker.selectOption({ label: 'Acme Corp (acme)' });
    await open(page, '#/keys');
    await page.getByText('Sees only the account Acme Corp (acme)').waitFor();
    await page.getByLabel('Key name').fill('acme wallboard');
    await page.getByRole('button', { name: 'Create key' }).click();
    const token = (await page.getByLabel('Token of “acme wallboard”').and(page.locator('code')).textContent()) ?? '';
    const seen = must(await s.gql('{ viewer { account { key } } }', {}, token), 'viewer');
    assert.equal(seen.viewer.account?.key, 'acme');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    await page.getByRole('row').filter({ hasText: 'acme wallboard' }).getByText('Acme Corp (acme)').waitFor();

    // Deleted only once the typed text is its key; the default account offers no delete.
    await open(page, '#/accounts');
    await accounts.getByText('default', { exact: true }).waitFor();
    const defaultRow = accounts.getByRole('row').filter({ has: page.getByText('default', { exact: true }) });
    assert.equal(await defaultRow.getByRole('button', { name: 'Delete' }).count(), 0);
    await defaultRow.getByText('The default account cannot be deleted.').waitFor();
    await row.getByRole('button', { name: 'Delete' }).click();
    const confirm = row.getByRole('button', { name: 'Delete account' });
    const typed = row.getByLabel(/^Type acme to delete it/);
    assert.equal(await confirm.isDisabled(), true, 'disabled before anything is typed');
    await typed.fill('acm');
    assert.equal(await confirm.isDisabled(), true, 'disabled with a wrong key');
    await typed.fill('Acme Corp');
    assert.equal(await confirm.isDisabled(), true, 'the name is not the key');
    await typed.fill('acme');
    assert.equal(await confirm.isDisabled(), false);
    await confirm.click();
    await row.waitFor({ state: 'detached' });
    assert.equal(await accountByKey('acme'), null);
    await eventually(async () => (await picker.inputValue()) === '' || undefined);
    assert.equal((await s.gql('{ viewer { id } }', {}, token)).errors?.[0]?.extensions?.code, 'UNAUTHENTICATED');
    await open(page, '#/webhooks');
    await page.getByText('1 webhook', { exact: true }).waitFor();
    await page.getByRole('link', { name: 'Default hook' }).waitFor();
    await page.close();
  });

  it('a scoped key sees only its account: its name in the header, no picker, no Accounts screen', async () => {
    const globex = must(
      await s.gql('mutation { createAccount(input: { key: "globex", name: "Globex" }) { id key name } }'),
      'createAccount',
    ).createAccount;
    await createWebhook(s, { name: 'Elsewhere hook', url: DESTINATION });
    must(
      await s.gql('mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id } }', {
        i: { name: 'Globex hook', destinationUrl: DESTINATION, accountId: globex.id },
      }),
      'createWebhook',
    );
    const token = must(
      await s.gql('mutation($a: ID) { createApiKey(name: "globex support", role: SUPPORT, accountId: $a) { token } }', {
        a: globex.id,
      }),
      'createApiKey',
    ).createApiKey.token as string;

    const page = await signIn(token);
    await page.getByLabel('Account', { exact: true }).filter({ hasText: 'Globex' }).waitFor();
    await page.getByRole('link', { name: 'Globex hook' }).waitFor();
    await page.getByText('1 webhook', { exact: true }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Elsewhere hook' }).count(), 0);
    assert.equal(await page.getByRole('combobox', { name: 'Account' }).count(), 0, 'no account picker');
    assert.equal(await page.getByLabel('Find account').count(), 0);
    assert.equal(await page.getByRole('link', { name: 'Accounts' }).count(), 0, 'no Accounts screen offered');
    await screenshot(page, 'scoped');

    await open(page, '#/webhooks/new');
    await page.getByText('In the account Globex (globex).').waitFor();
    assert.equal(await page.getByLabel(/account/i).count(), 1, 'the header alone names the account; no input for it');
    await open(page, '#/keys');
    await page.getByText('Sees only the account Globex (globex)').waitFor();
    await open(page, '#/accounts');
    await page.getByText('This key sees one account only').waitFor();
    assert.equal(await page.getByRole('table', { name: 'Accounts' }).count(), 0);
    await page.close();
  });
});
