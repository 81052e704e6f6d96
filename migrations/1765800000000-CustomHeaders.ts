import type { MigrationInterface, QueryRunner } from 'typeorm';
import { SEND_GUARD_CLASS } from '../src/storage/sql/send-guard.js';

// Custom headers and attempt forensics (contract revision 3):
// - webhooks.headers: the custom headers as a JSON array of
//   {name, secret, value} or, for a secret one, {name, secret, sealed} (sealed
//   with the keyring like bearer_token, bound to the webhook and the header's
//   lower-case name: domain/headers.ts). A list of at most 10 read whole with
//   the webhook by every claim: a table of its own would cost a join per claim.
// - The version trigger (as 1765700000000-Protection left it) also counts a
//   change of the headers as a change of what a request is made of, so a
//   delivery claimed before the change is handed back by the send gate instead
//   of going out with the old headers.
// - delivery_attempts.remote_address, response_headers, timings: written by the
//   attempts' batched statement (recordAttempts) beside trace_id.
// All are added without a rewrite (nullable, or a constant default).
const VERSIONED = [
  'status',
  'deleted_at',
  'destination_url',
  'bearer_token',
  'hmac_secret',
  'previous_hmac_expires_at',
  'signing_key',
  'previous_signing_expires_at',
  'circuit_state',
];

const versionFunction = (columns: string[]) => `
  CREATE OR REPLACE FUNCTION hookline_webhook_version() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF ${columns.map((c) => `NEW.${c} IS DISTINCT FROM OLD.${c}`).join('\n       OR ')} THEN
      PERFORM pg_advisory_xact_lock(${SEND_GUARD_CLASS}, hashtext(NEW.id::text));
      NEW.version := OLD.version + 1;
    END IF;
    RETURN NEW;
  END $$`;

export class CustomHeaders1765800000000 implements MigrationInterface {
  name = 'CustomHeaders1765800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhooks ADD COLUMN headers jsonb NOT NULL DEFAULT '[]'`);
    await q.query(versionFunction([...VERSIONED, 'headers']));
    await q.query(`ALTER TABLE delivery_attempts ADD COLUMN remote_address text`);
    await q.query(`ALTER TABLE delivery_attempts ADD COLUMN response_headers jsonb`);
    await q.query(`ALTER TABLE delivery_attempts ADD COLUMN timings jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE delivery_attempts DROP COLUMN timings`);
    await q.query(`ALTER TABLE delivery_attempts DROP COLUMN response_headers`);
    await q.query(`ALTER TABLE delivery_attempts DROP COLUMN remote_address`);
    await q.query(versionFunction(VERSIONED));
    await q.query(`ALTER TABLE webhooks DROP COLUMN headers`);
  }
}
