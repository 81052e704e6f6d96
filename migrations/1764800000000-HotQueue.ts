import type { MigrationInterface, QueryRunner } from 'typeorm';

// A cost that does not grow with history.
// - The queue's hot state (what is due, its lease, its attempt count) moves to
//   delivery_queue, a narrow table holding only deliveries not yet finished:
//   claims and leases churn a table of thousands of rows, not the delivery log.
//   A delivery row is written when it is created and once more when it
//   finishes; no index of deliveries covers a column those updates change,
//   so with room left on its pages (fillfactor) the second write is a HOT
//   update that adds no index entries. Measured before: every delivery was
//   updated twice, both non-HOT, and 183,000 dead row versions stood beside
//   61,500 live ones after 60,000 deliveries.
// - Ids are time-ordered (UUIDv7): new rows land at the right edge of every
//   primary key and event-id index instead of at random pages, so inserting
//   costs the same with a million rows of history as with none.
// - The queue is vacuumed often and without throttling; its rows are few and
//   short-lived.
export class HotQueue1764800000000 implements MigrationInterface {
  name = 'HotQueue1764800000000';

  async up(q: QueryRunner): Promise<void> {
    // UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. PostgreSQL 15 has no uuidv7().
    await q.query(`
      CREATE FUNCTION hookline_uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
        SELECT encode(
          set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
          'hex')::uuid
      $$`);
    for (const table of ['events', 'deliveries', 'delivery_attempts', 'audit_log']) {
      await q.query(`ALTER TABLE ${table} ALTER COLUMN id SET DEFAULT hookline_uuid_v7()`);
    }

    await q.query(`
      CREATE TABLE delivery_queue (
        delivery_id uuid PRIMARY KEY,
        webhook_id uuid NOT NULL,
        event_id uuid NOT NULL,
        -- Due at this time; pushed forward by a claim (the lease); NULL: parked (webhook paused or disabled).
        next_attempt_at timestamptz,
        -- Raised by every claim: the fencing token of the latest claim.
        attempt_count integer NOT NULL DEFAULT 0
      ) WITH (
        fillfactor = 70,
        autovacuum_vacuum_scale_factor = 0,
        autovacuum_vacuum_threshold = 2000,
        autovacuum_vacuum_cost_delay = 0,
        autovacuum_analyze_scale_factor = 0,
        autovacuum_analyze_threshold = 5000
      )`);
    await q.query(
      `CREATE INDEX delivery_queue_due ON delivery_queue (next_attempt_at) WHERE next_attempt_at IS NOT NULL`,
    );
    await q.query(`CREATE INDEX delivery_queue_webhook ON delivery_queue (webhook_id)`);
    // Retention asks, of each old event, whether it still has a delivery to make: a probe here, not a walk of the log.
    await q.query(`CREATE INDEX delivery_queue_event ON delivery_queue (event_id)`);
    await q.query(`
      INSERT INTO delivery_queue (delivery_id, webhook_id, event_id, next_attempt_at, attempt_count)
      SELECT id, webhook_id, event_id, next_attempt_at, attempt_count FROM deliveries WHERE status = 'PENDING'`);
    await q.query(`DROP INDEX deliveries_due`);
    // Room for the finishing update to stay on its page (HOT); applies to pages written from now on.
    await q.query(`ALTER TABLE deliveries SET (fillfactor = 80)`);
    // Retention walks events by age (events_page) and their deliveries by event (deliveries_event).
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE deliveries RESET (fillfactor)`);
    await q.query(
      `CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'PENDING' AND next_attempt_at IS NOT NULL`,
    );
    await q.query(`
      UPDATE deliveries d SET next_attempt_at = q.next_attempt_at, attempt_count = q.attempt_count
      FROM delivery_queue q WHERE q.delivery_id = d.id`);
    await q.query(`DROP TABLE delivery_queue`);
    for (const table of ['events', 'deliveries', 'delivery_attempts', 'audit_log']) {
      await q.query(`ALTER TABLE ${table} ALTER COLUMN id SET DEFAULT gen_random_uuid()`);
    }
    await q.query(`DROP FUNCTION hookline_uuid_v7()`);
  }
}
