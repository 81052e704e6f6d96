import type { MigrationInterface, QueryRunner } from 'typeorm';

// Fairness between accounts: the claim (storage/sql/deliveries.ts, claimDue)
// serves the accounts with due work in turn, so it must reach each account's
// oldest due rows without walking past another account's backlog. The due
// index therefore leads with the account: one descent finds the next account
// with queued rows and its oldest entry (a skip scan), a second reads that
// account's due rows in order. The index replaces the one on next_attempt_at
// alone instead of joining it: every claim and every finished attempt
// rewrites a queue row, and each index on the table is one more entry to write.
export class FairClaim1765350000000 implements MigrationInterface {
  name = 'FairClaim1765350000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE delivery_queue ADD COLUMN account_id uuid`);
    await q.query(`UPDATE delivery_queue q SET account_id = w.account_id FROM webhooks w WHERE w.id = q.webhook_id`);
    await q.query(`ALTER TABLE delivery_queue ALTER COLUMN account_id SET NOT NULL`);
    await q.query(`DROP INDEX delivery_queue_due`);
    await q.query(
      `CREATE INDEX delivery_queue_due ON delivery_queue (account_id, next_attempt_at)
       WHERE next_attempt_at IS NOT NULL AND NOT held`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX delivery_queue_due`);
    await q.query(
      `CREATE INDEX delivery_queue_due ON delivery_queue (next_attempt_at) WHERE next_attempt_at IS NOT NULL AND NOT held`,
    );
    await q.query(`ALTER TABLE delivery_queue DROP COLUMN account_id`);
  }
}
