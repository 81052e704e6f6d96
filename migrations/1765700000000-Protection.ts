import type { MigrationInterface, QueryRunner } from 'typeorm';
import { SEND_GUARD_CLASS } from '../src/storage/sql/send-guard.js';

// Endpoint protection and notices (contract revision 3, issue #20).
// - webhooks.rate_limit, max_in_flight: the webhook's limits, across every
//   worker. They change no request, so the version trigger ignores them.
// - webhook_flow: the limits' state, one row per limited webhook only, locked
//   by the claim that takes its deliveries (storage/sql/deliveries.ts): the
//   claim times of the last second (`starts`) and the live claims with their
//   lease ends (`claims`, `claims_until`). A claim whose worker died leaves its
//   entry behind only until its lease ends, so nothing drifts when workers come
//   and go. `latency_ms` (a moving average kept by the attempt log) says when
//   a delivery waiting for a free slot is expected to go.
// - webhooks.circuit_*: the breaker, moved by the attempt log's statement with
//   the failure streak it already keeps; webhooks_probe_due finds the circuits
//   whose probe is due. A change of circuit_state raises the webhook's version
//   (the trigger of 1765200000000-StoppingMeansStopped, redefined here): the
//   deliveries claimed before the circuit opened and not yet started are
//   handed back by the send gate, and parked by the next claim.
// - delivery_queue.probe marks the probe; probes counts the attempts probes
//   spent, which the retry schedule does not count.
// - webhook_notices: the outbox of webhook.failing / recovered / disabled,
//   written by the statement that makes the change and emptied into events
//   (storage/sql/notices.ts), so a notice is neither lost nor sent twice.
export class Protection1765700000000 implements MigrationInterface {
  name = 'Protection1765700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE webhooks
        ADD COLUMN rate_limit int CHECK (rate_limit BETWEEN 1 AND 1000),
        ADD COLUMN max_in_flight int CHECK (max_in_flight BETWEEN 1 AND 1000),
        ADD COLUMN circuit_state text NOT NULL DEFAULT 'CLOSED' CHECK (circuit_state IN ('CLOSED', 'OPEN', 'HALF_OPEN')),
        ADD COLUMN circuit_opened_at timestamptz,
        ADD COLUMN circuit_next_probe_at timestamptz,
        ADD COLUMN circuit_probe_ms int`);
    await q.query(versionTrigger(true));
    await q.query(
      `CREATE INDEX webhooks_probe_due ON webhooks (circuit_next_probe_at) WHERE circuit_state <> 'CLOSED'`,
    );
    await q.query(`
      CREATE TABLE webhook_flow (
        webhook_id uuid PRIMARY KEY REFERENCES webhooks (id) ON DELETE CASCADE,
        starts timestamptz[] NOT NULL DEFAULT '{}',
        claims uuid[] NOT NULL DEFAULT '{}',
        claims_until timestamptz[] NOT NULL DEFAULT '{}',
        latency_ms real NOT NULL DEFAULT 100
      )`);
    await q.query(`
      ALTER TABLE delivery_queue
        ADD COLUMN probe boolean NOT NULL DEFAULT false,
        ADD COLUMN probes int NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE events ADD COLUMN about_webhook_id uuid`);
    await q.query(`
      CREATE TABLE webhook_notices (
        id uuid PRIMARY KEY DEFAULT hookline_uuid_v7(),
        webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
        action text NOT NULL CHECK (action IN ('FAILING', 'RECOVERED', 'DISABLED')),
        reason text,
        consecutive_failures int NOT NULL,
        failing_since timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE webhook_notices`);
    await q.query(`ALTER TABLE events DROP COLUMN about_webhook_id`);
    await q.query(`ALTER TABLE delivery_queue DROP COLUMN probe, DROP COLUMN probes`);
    await q.query(`DROP TABLE webhook_flow`);
    await q.query(`DROP INDEX webhooks_probe_due`);
    await q.query(`
      ALTER TABLE webhooks DROP COLUMN rate_limit, DROP COLUMN max_in_flight, DROP COLUMN circuit_state,
        DROP COLUMN circuit_opened_at, DROP COLUMN circuit_next_probe_at, DROP COLUMN circuit_probe_ms`);
    await q.query(versionTrigger(false));
  }
}

/** hookline_webhook_version(), with the circuit's state among what raises the version or without it. */
function versionTrigger(withCircuit: boolean): string {
  return `
    CREATE OR REPLACE FUNCTION hookline_webhook_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.status IS DISTINCT FROM OLD.status
         OR NEW.deleted_at IS DISTINCT FROM OLD.deleted_at
         OR NEW.destination_url IS DISTINCT FROM OLD.destination_url
         OR NEW.bearer_token IS DISTINCT FROM OLD.bearer_token
         OR NEW.hmac_secret IS DISTINCT FROM OLD.hmac_secret
         OR NEW.previous_hmac_expires_at IS DISTINCT FROM OLD.previous_hmac_expires_at
         OR NEW.signing_key IS DISTINCT FROM OLD.signing_key
         OR NEW.previous_signing_expires_at IS DISTINCT FROM OLD.previous_signing_expires_at
         ${withCircuit ? 'OR NEW.circuit_state IS DISTINCT FROM OLD.circuit_state' : ''} THEN
        PERFORM pg_advisory_xact_lock(${SEND_GUARD_CLASS}, hashtext(NEW.id::text));
        NEW.version := OLD.version + 1;
      END IF;
      RETURN NEW;
    END $$`;
}
