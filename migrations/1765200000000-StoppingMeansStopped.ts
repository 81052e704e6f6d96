import type { MigrationInterface, QueryRunner } from 'typeorm';
import { SEND_GUARD_CLASS } from '../src/storage/sql/send-guard.js';

// Stopping means stopped (delivery contract, revision 3): once a pause, a
// delete, a disable (410) or a change of destination or secrets has been
// committed, no request starts with the webhook's old state.
// - webhooks.version: raised by a trigger whenever a column a request is made
//   of (or whether it may be made) changes. A claim returns it; the worker
//   compares it again just before sending (delivery/send-gate.ts).
// - The same trigger takes an exclusive transaction-level advisory lock on
//   the webhook (class 0x686c7367, "hlsg"; the key is the id's hash), and
//   hookline_send_guard() takes the shared one for the webhooks about to be
//   sent to, then reads their versions with a snapshot taken after the lock
//   (a volatile function's statements each take their own). So a change
//   waits until requests admitted under the old version have started, and
//   any admission after it reads the new version. The guard only tries the
//   locks (a change in progress makes it wait for the next try, never the
//   other way round), so the two cannot deadlock.
export class StoppingMeansStopped1765200000000 implements MigrationInterface {
  name = 'StoppingMeansStopped1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhooks ADD COLUMN version bigint NOT NULL DEFAULT 0`);
    await q.query(`
      CREATE FUNCTION hookline_webhook_version() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.status IS DISTINCT FROM OLD.status
           OR NEW.deleted_at IS DISTINCT FROM OLD.deleted_at
           OR NEW.destination_url IS DISTINCT FROM OLD.destination_url
           OR NEW.bearer_token IS DISTINCT FROM OLD.bearer_token
           OR NEW.hmac_secret IS DISTINCT FROM OLD.hmac_secret
           OR NEW.previous_hmac_expires_at IS DISTINCT FROM OLD.previous_hmac_expires_at
           OR NEW.signing_key IS DISTINCT FROM OLD.signing_key
           OR NEW.previous_signing_expires_at IS DISTINCT FROM OLD.previous_signing_expires_at THEN
          PERFORM pg_advisory_xact_lock(${SEND_GUARD_CLASS}, hashtext(NEW.id::text));
          NEW.version := OLD.version + 1;
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER webhooks_version BEFORE UPDATE ON webhooks
      FOR EACH ROW EXECUTE FUNCTION hookline_webhook_version()`);
    await q.query(`
      CREATE FUNCTION hookline_send_guard(ids uuid[]) RETURNS TABLE (webhook_id uuid, version bigint)
      LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        x uuid;
        held uuid[] := '{}';
      BEGIN
        FOREACH x IN ARRAY ids LOOP
          IF pg_try_advisory_lock_shared(${SEND_GUARD_CLASS}, hashtext(x::text)) THEN
            held := held || x;
          END IF;
        END LOOP;
        RETURN QUERY SELECT h.id, w.version FROM unnest(held) h(id) LEFT JOIN webhooks w ON w.id = h.id;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION hookline_send_guard(uuid[])`);
    await q.query(`DROP TRIGGER webhooks_version ON webhooks`);
    await q.query(`DROP FUNCTION hookline_webhook_version()`);
    await q.query(`ALTER TABLE webhooks DROP COLUMN version`);
  }
}
