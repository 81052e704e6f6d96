import type { MigrationInterface, QueryRunner } from 'typeorm';

// The whole schema, written by hand. Notes on the choices:
// - created_at columns that page lists are truncated to milliseconds so the
//   opaque cursor (ISO time + id) compares exactly with what is stored.
// - webhooks are soft-deleted: deliveries keep pointing at them for the log.
// - deliveries_due matches the worker's claim condition exactly; a delivery
//   with next_attempt_at NULL is parked (its webhook is paused or disabled).
export class Initial1764380000000 implements MigrationInterface {
  name = 'Initial1764380000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        role text NOT NULL CHECK (role IN ('SUPPORT', 'PUBLISHER', 'VIEWER')),
        token_hash text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        revoked_at timestamptz,
        CONSTRAINT api_keys_token_hash_unique UNIQUE (token_hash)
      )`);

    await q.query(`
      CREATE TABLE webhooks (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        destination_url text NOT NULL CHECK (length(destination_url) <= 2048),
        bearer_token text,
        hmac_secret text,
        status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'PAUSED', 'DISABLED')),
        status_reason text,
        failing_since timestamptz,
        consecutive_failures integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz
      )`);
    await q.query(`CREATE INDEX webhooks_page ON webhooks (created_at DESC, id DESC) WHERE deleted_at IS NULL`);
    await q.query(
      `CREATE INDEX webhooks_status_page ON webhooks (status, created_at DESC, id DESC) WHERE deleted_at IS NULL`,
    );

    await q.query(`
      CREATE TABLE webhook_subscriptions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
        resource text NOT NULL,
        action text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        CONSTRAINT webhook_subscriptions_unique UNIQUE (webhook_id, resource, action)
      )`);
    // Fan-out looks up subscribers by (resource, action).
    await q.query(`CREATE INDEX webhook_subscriptions_fanout ON webhook_subscriptions (resource, action, webhook_id)`);

    await q.query(`
      CREATE TABLE events (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        resource text NOT NULL,
        action text NOT NULL,
        type text NOT NULL,
        payload jsonb NOT NULL,
        occurred_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
        is_test boolean NOT NULL DEFAULT false
      )`);
    await q.query(
      `CREATE UNIQUE INDEX events_idempotency_key ON events (idempotency_key) WHERE idempotency_key IS NOT NULL`,
    );
    await q.query(`CREATE INDEX events_page ON events (created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX events_resource_page ON events (resource, action, created_at DESC, id DESC)`);

    await q.query(`
      CREATE TABLE deliveries (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        event_id uuid NOT NULL REFERENCES events (id),
        webhook_id uuid NOT NULL REFERENCES webhooks (id),
        status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
        attempt_count integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz,
        last_attempt_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
      )`);
    await q.query(
      `CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'PENDING' AND next_attempt_at IS NOT NULL`,
    );
    await q.query(`CREATE INDEX deliveries_event ON deliveries (event_id)`);
    await q.query(`CREATE INDEX deliveries_webhook_page ON deliveries (webhook_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX deliveries_page ON deliveries (created_at DESC, id DESC)`);

    await q.query(`
      CREATE TABLE delivery_attempts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        delivery_id uuid NOT NULL REFERENCES deliveries (id),
        webhook_id uuid NOT NULL,
        event_id uuid NOT NULL,
        attempt_number integer NOT NULL,
        outcome text NOT NULL CHECK (outcome IN ('SUCCESS', 'HTTP_ERROR', 'TIMEOUT', 'NETWORK_ERROR', 'BLOCKED')),
        response_status integer,
        response_body text,
        error_message text,
        duration_ms integer NOT NULL,
        started_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, attempt_number)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE delivery_attempts`);
    await q.query(`DROP TABLE deliveries`);
    await q.query(`DROP TABLE events`);
    await q.query(`DROP TABLE webhook_subscriptions`);
    await q.query(`DROP TABLE webhooks`);
    await q.query(`DROP TABLE api_keys`);
  }
}
