import type { MigrationInterface, QueryRunner } from 'typeorm';
import { placeOf, seal } from '../src/domain/secret-box.js';
import { migrationKeyring } from './keyring.js';

// Secrets at rest, rotation, ED25519 keys, API key expiry and use, the audit log.
// - Every secret column holds sealed text (domain/secret-box.ts); the
//   plain-text values stored so far are sealed here, in batches, with the row
//   id and column as additional data.
// - A rotation keeps one previous HMAC secret and one previous signing key,
//   each with the end of its overlap.
// - audit_log is append-only; its three indexes serve the listing newest
//   first, by target and by action.
const BATCH = 500;

export class SecretsAndAudit1764600000000 implements MigrationInterface {
  name = 'SecretsAndAudit1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys ADD COLUMN expires_at timestamptz, ADD COLUMN last_used_at timestamptz`);
    await q.query(`
      ALTER TABLE webhooks
        ADD COLUMN previous_hmac_secret text,
        ADD COLUMN previous_hmac_expires_at timestamptz,
        ADD COLUMN signing_key text,
        ADD COLUMN signing_public_key text,
        ADD COLUMN previous_signing_key text,
        ADD COLUMN previous_signing_expires_at timestamptz`);
    await q.query(`
      CREATE TABLE audit_log (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        actor_key_id uuid,
        actor_name text NOT NULL,
        action text NOT NULL,
        target_type text NOT NULL,
        target_id uuid,
        changes jsonb NOT NULL DEFAULT '{}'
      )`);
    await q.query(`CREATE INDEX audit_log_page ON audit_log (at DESC, id DESC)`);
    await q.query(`CREATE INDEX audit_log_target ON audit_log (target_id, at DESC, id DESC)`);
    await q.query(`CREATE INDEX audit_log_action ON audit_log (action, at DESC, id DESC)`);

    const rows = (await q.query(
      `SELECT id, bearer_token, hmac_secret FROM webhooks WHERE bearer_token IS NOT NULL OR hmac_secret IS NOT NULL`,
    )) as { id: string; bearer_token: string | null; hmac_secret: string | null }[];
    if (rows.length === 0) return;
    const ring = migrationKeyring();
    for (let i = 0; i < rows.length; i += BATCH) {
      const batch = rows.slice(i, i + BATCH);
      const sealIn = (r: (typeof rows)[number], column: 'bearer_token' | 'hmac_secret') =>
        r[column] === null ? null : seal(ring, r[column], placeOf('webhooks', column, r.id));
      await q.query(
        `UPDATE webhooks w SET bearer_token = s.bearer_token, hmac_secret = s.hmac_secret
         FROM unnest($1::uuid[], $2::text[], $3::text[]) AS s(id, bearer_token, hmac_secret) WHERE w.id = s.id`,
        [
          batch.map((r) => r.id),
          batch.map((r) => sealIn(r, 'bearer_token')),
          batch.map((r) => sealIn(r, 'hmac_secret')),
        ],
      );
    }
  }

  async down(q: QueryRunner): Promise<void> {
    // Secrets stay sealed: unsealing them back into the table is not something to do by accident.
    await q.query(`DROP TABLE audit_log`);
    await q.query(`
      ALTER TABLE webhooks
        DROP COLUMN previous_hmac_secret, DROP COLUMN previous_hmac_expires_at, DROP COLUMN signing_key,
        DROP COLUMN signing_public_key, DROP COLUMN previous_signing_key, DROP COLUMN previous_signing_expires_at`);
    await q.query(`ALTER TABLE api_keys DROP COLUMN expires_at, DROP COLUMN last_used_at`);
  }
}
