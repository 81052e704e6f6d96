import type { MigrationInterface, QueryRunner } from 'typeorm';

// Ordered delivery per object, payload filters, replays and search by object.
// - webhooks.ordering: NONE (the default) or PER_OBJECT.
// - webhook_subscriptions.filter (as given) and filter_path (compiled by
//   domain/filter.ts to an SQL/JSON path, tested in the publishing statement).
// - events.seq: the publish order (a sequence: timestamps tie and are not
//   monotonic across hosts). Rows published before this migration keep NULL;
//   adding the column without a default and setting the default afterwards
//   rewrites nothing, however large the table.
// - events_object: events by object (the payload's id), then resource, newest
//   first: "every delivery about enrollment 42". An expression index, so
//   existing events are found too without a backfill.
// - delivery_queue.object_key ("resource:id", a "replay:" lane for replays)
//   and seq, set only for PER_OBJECT webhooks; held: waiting for the delivery
//   before it about the same object (storage/sql/ordering.ts says how it is
//   released). The due index leaves held rows out, so a long chain behind a
//   failing delivery costs the claim nothing.
// - deliveries (event_id, webhook_id) unique: one delivery per event and
//   webhook, which replays rely on; it replaces deliveries_event (same leading
//   column), so the delivery log has no more indexes than before.
export class Semantics1764900000000 implements MigrationInterface {
  name = 'Semantics1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE webhooks ADD COLUMN ordering text NOT NULL DEFAULT 'NONE' CHECK (ordering IN ('NONE', 'PER_OBJECT'))`,
    );
    await q.query(`ALTER TABLE webhook_subscriptions ADD COLUMN filter jsonb, ADD COLUMN filter_path jsonpath`);
    await q.query(
      `ALTER TABLE webhook_subscriptions ADD CONSTRAINT webhook_subscriptions_filter CHECK ((filter IS NULL) = (filter_path IS NULL))`,
    );
    await q.query(`CREATE SEQUENCE events_seq AS bigint`);
    await q.query(`ALTER TABLE events ADD COLUMN seq bigint`);
    await q.query(`ALTER TABLE events ALTER COLUMN seq SET DEFAULT nextval('events_seq')`);
    await q.query(`ALTER SEQUENCE events_seq OWNED BY events.seq`);
    await q.query(`CREATE INDEX events_object ON events ((payload ->> 'id'), resource, created_at DESC, id DESC)`);

    await q.query(
      `ALTER TABLE delivery_queue ADD COLUMN object_key text, ADD COLUMN seq bigint, ADD COLUMN held boolean NOT NULL DEFAULT false`,
    );
    await q.query(
      `CREATE INDEX delivery_queue_object ON delivery_queue (webhook_id, object_key, seq) WHERE object_key IS NOT NULL`,
    );
    await q.query(`DROP INDEX delivery_queue_due`);
    await q.query(
      `CREATE INDEX delivery_queue_due ON delivery_queue (next_attempt_at) WHERE next_attempt_at IS NOT NULL AND NOT held`,
    );

    await q.query(`CREATE UNIQUE INDEX deliveries_event_webhook ON deliveries (event_id, webhook_id)`);
    await q.query(`DROP INDEX deliveries_event`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX deliveries_event ON deliveries (event_id)`);
    await q.query(`DROP INDEX deliveries_event_webhook`);
    await q.query(`DROP INDEX delivery_queue_due`);
    await q.query(
      `CREATE INDEX delivery_queue_due ON delivery_queue (next_attempt_at) WHERE next_attempt_at IS NOT NULL`,
    );
    await q.query(`DROP INDEX delivery_queue_object`);
    await q.query(`ALTER TABLE delivery_queue DROP COLUMN object_key, DROP COLUMN seq, DROP COLUMN held`);
    await q.query(`DROP INDEX events_object`);
    await q.query(`ALTER TABLE events DROP COLUMN seq`);
    await q.query(`ALTER TABLE webhook_subscriptions DROP COLUMN filter, DROP COLUMN filter_path`);
    await q.query(`ALTER TABLE webhooks DROP COLUMN ordering`);
  }
}
