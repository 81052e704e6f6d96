import type { BenchDb } from './db.js';
import { SEQ, type GqlRequest } from './ipc.js';
import { GqlClient, PUBLISH, userPayload } from './load.js';

// What the accounts scenarios (bench/scenarios/fairness.ts, account-scale.ts)
// share: accounts and webhooks made through the public contract
// (contract/api-contract.graphql, revision 3), publishes that name an account
// by its key, sizes read from the environment, and the SQL copy that makes
// thousands of accounts out of one made through the API.

/** A positive integer from the environment, else `fallback`; anything else fails before the scenario starts. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replaceAll('_', ''));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name}: expected a positive integer, got '${raw}'`);
  return n;
}

/** The bench's own setup client (the load generator sends what is timed). */
export function setupClient(url: string, supportKey: string): GqlClient {
  return new GqlClient(url, supportKey, 8);
}

export async function createAccount(client: GqlClient, key: string, name = `bench ${key}`): Promise<string> {
  const data = await client.post<{ createAccount: { id: string } }>(
    'mutation($input: CreateAccountInput!) { createAccount(input: $input) { id key } }',
    { input: { key, name } },
  );
  return data.createAccount.id;
}

/** One webhook of `accountId` per URL, subscribed to user.created (what `publishTo` sends), unsigned. */
export async function createAccountWebhooks(client: GqlClient, accountId: string, urls: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const [i, url] of urls.entries()) {
    const data = await client.post<{ createWebhook: { id: string; account: { id: string } } }>(
      'mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { id account { id } } }',
      {
        input: {
          accountId,
          name: `bench ${i}`,
          destinationUrl: url,
          subscriptions: [{ resource: 'USERS', action: 'CREATE' }],
        },
      },
    );
    if (data.createWebhook.account.id !== accountId)
      throw new Error(`createWebhook(accountId: ${accountId}) made a webhook of ${data.createWebhook.account.id}`);
    ids.push(data.createWebhook.id);
  }
  return ids;
}

/** publishEvent of a user.created naming the account by its key, a payload of its own per request (`${prefix}<seq>`). */
export const publishTo = (url: string, token: string, account: string, prefix: string): GqlRequest => ({
  url,
  token,
  query: PUBLISH,
  variables: { input: { resource: 'USERS', action: 'CREATE', account, payload: userPayload(`${prefix}${SEQ}`) } },
});

/** The table's columns that a copy writes: all but `id` and generated ones, in table order. */
async function copiedColumns(db: BenchDb, table: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ column_name: string }>(
    `SELECT column_name FROM information_schema.columns
     WHERE table_schema = current_schema() AND table_name = $1 AND column_name <> 'id'
       AND is_generated = 'NEVER' AND identity_generation IS NULL
     ORDER BY ordinal_position`,
    [table],
  );
  if (rows.length === 0) throw new Error(`no table ${table}`);
  return rows.map((r) => r.column_name);
}

/**
 * `copies` more accounts like `templateId` (keys `${keyPrefix}<n>`, n from 1),
 * each with a copy of every webhook of the template and of their
 * subscriptions: seeding 10,000 accounts through the API is not what is
 * measured. The copy takes every column of the template's rows as the
 * server wrote them, so it follows the schema (whatever columns the accounts
 * migration added), with the account's key and name, and each copy's
 * account_id and webhook_id, replaced. The template's webhooks must have no
 * secrets (a sealed secret is bound to its row's id).
 */
export async function copyAccount(db: BenchDb, templateId: string, copies: number, keyPrefix: string): Promise<void> {
  const cols = async (table: string, replace: Record<string, string>) => {
    const names = await copiedColumns(db, table);
    return { list: names.join(', '), values: names.map((c) => replace[c] ?? `t.${c}`).join(', ') };
  };
  const acc = await cols('accounts', { key: `$2::text || g`, name: `'bench ' || $2::text || g` });
  await db.pool.query(
    `INSERT INTO accounts (${acc.list})
     SELECT ${acc.values} FROM accounts t, generate_series(1, $3::int) g WHERE t.id = $1`,
    [templateId, keyPrefix, copies],
  );
  const wh = await cols('webhooks', { account_id: 'a.id' });
  await db.pool.query(
    `INSERT INTO webhooks (${wh.list})
     SELECT ${wh.values} FROM webhooks t, accounts a
     WHERE t.account_id = $1 AND t.deleted_at IS NULL AND a.key LIKE $2::text || '%' AND a.id <> $1`,
    [templateId, keyPrefix],
  );
  // A copy is found by its account and its name, the template webhook's.
  const sub = await cols('webhook_subscriptions', { webhook_id: 'w.id', account_id: 'w.account_id' });
  await db.pool.query(
    `INSERT INTO webhook_subscriptions (${sub.list})
     SELECT ${sub.values}
     FROM webhook_subscriptions t
     JOIN webhooks tw ON tw.id = t.webhook_id AND tw.account_id = $1
     JOIN webhooks w ON w.name = tw.name AND w.account_id <> $1
     JOIN accounts a ON a.id = w.account_id AND a.key LIKE $2::text || '%'`,
    [templateId, keyPrefix],
  );
  await db.pool.query('VACUUM ANALYZE accounts, webhooks, webhook_subscriptions');
}
