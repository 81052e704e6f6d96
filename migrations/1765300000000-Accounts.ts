import type { MigrationInterface, QueryRunner } from 'typeorm';
import { DEFAULT_ACCOUNT_ID } from '../src/domain/accounts.js';

// Accounts (contract revision 3): every webhook, event, scoped API key and
// audit entry belongs to one account; what existed before belongs to the
// account "default", which always exists. The columns get no default once
// filled: a statement that forgets to name the account fails instead of
// putting a customer's row into another account.
// - webhook_subscriptions carries its webhook's account (a webhook never
//   changes account), so the fan-out index starts with the account: a publish
//   reads only its own account's subscriptions, however many accounts there are.
// - events.account_id has no foreign key: the publishing statement joins the
//   live account itself (it must, to refuse a deleted one), and a foreign key
//   would check it a second time for every event. Deletion removes events
//   before the account (services/accounts.ts, delivery/maintenance.ts).
// - An account's key is unique among live accounts: a deleted account waiting
//   for its rows to be purged does not hold its key.
export class Accounts1765300000000 implements MigrationInterface {
  name = 'Accounts1765300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE accounts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        key text NOT NULL CHECK (key ~ '^[A-Za-z0-9._:-]{1,128}$'),
        name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      )`);
    await q.query(`CREATE UNIQUE INDEX accounts_key ON accounts (key) WHERE deleted_at IS NULL`);
    await q.query(`CREATE INDEX accounts_page ON accounts (created_at DESC, id DESC) WHERE deleted_at IS NULL`);
    await q.query(`CREATE INDEX accounts_deleted ON accounts (id) WHERE deleted_at IS NOT NULL`);
    await q.query(`INSERT INTO accounts (id, key, name) VALUES ($1, 'default', 'Default')`, [DEFAULT_ACCOUNT_ID]);

    for (const [table, nullable] of [
      ['webhooks', false],
      ['webhook_subscriptions', false],
      ['events', false],
      ['api_keys', true],
      ['audit_log', true],
    ] as const) {
      const references = table === 'events' ? '' : 'REFERENCES accounts (id)';
      if (nullable) {
        await q.query(`ALTER TABLE ${table} ADD COLUMN account_id uuid ${references}`);
      } else {
        await q.query(`ALTER TABLE ${table} ADD COLUMN account_id uuid NOT NULL DEFAULT '${DEFAULT_ACCOUNT_ID}' ${references}`);
        await q.query(`ALTER TABLE ${table} ALTER COLUMN account_id DROP DEFAULT`);
      }
    }
    // Audit entries about webhooks and deliveries were made in the default account.
    await q.query(`UPDATE audit_log SET account_id = $1 WHERE target_type <> 'ApiKey'`, [DEFAULT_ACCOUNT_ID]);

    await q.query(`DROP INDEX webhook_subscriptions_fanout`);
    await q.query(
      `CREATE INDEX webhook_subscriptions_fanout ON webhook_subscriptions (account_id, resource, action, webhook_id)`,
    );
    await q.query(`DROP INDEX events_idempotency_key`);
    await q.query(
      `CREATE UNIQUE INDEX events_idempotency_key ON events (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL`,
    );
    await q.query(`CREATE INDEX events_account_page ON events (account_id, created_at DESC, id DESC)`);
    await q.query(
      `CREATE INDEX webhooks_account_page ON webhooks (account_id, created_at DESC, id DESC) WHERE deleted_at IS NULL`,
    );
    await q.query(`CREATE INDEX webhooks_account ON webhooks (account_id)`);
    await q.query(`CREATE INDEX api_keys_account ON api_keys (account_id) WHERE account_id IS NOT NULL`);
    await q.query(`CREATE INDEX audit_log_account ON audit_log (account_id, at DESC, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX events_account_page`);
    await q.query(`DROP INDEX events_idempotency_key`);
    await q.query(
      `CREATE UNIQUE INDEX events_idempotency_key ON events (idempotency_key) WHERE idempotency_key IS NOT NULL`,
    );
    await q.query(`DROP INDEX webhook_subscriptions_fanout`);
    await q.query(`CREATE INDEX webhook_subscriptions_fanout ON webhook_subscriptions (resource, action, webhook_id)`);
    for (const table of ['audit_log', 'api_keys', 'events', 'webhook_subscriptions', 'webhooks'])
      await q.query(`ALTER TABLE ${table} DROP COLUMN account_id`);
    await q.query(`DROP TABLE accounts`);
  }
}
