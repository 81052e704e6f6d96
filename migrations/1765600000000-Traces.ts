import type { MigrationInterface, QueryRunner } from 'typeorm';

// Traces (contract revision 3, telemetry/tracing.ts):
// - events.trace_parent: the event's trace context as a W3C traceparent, written
//   by the publishing statement with the event (no statement more per publish);
//   workers in any process read it with the claim and continue the trace. Null
//   for events stored before this migration.
// - delivery_attempts.trace_id: the trace of the attempt's span; null when the
//   attempt was in none (tracing off and no traceparent sent).
// - webhooks.send_traceparent: the destination receives a traceparent header.
// All three are added without a rewrite (nullable, or a constant default), so
// this migration is instant on a large delivery log. No CHECK on the formats:
// the service writes them (parseTraceparent), and a regex per inserted row would
// cost every publish.
export class Traces1765600000000 implements MigrationInterface {
  name = 'Traces1765600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE events ADD COLUMN trace_parent text`);
    await q.query(`ALTER TABLE delivery_attempts ADD COLUMN trace_id text`);
    await q.query(`ALTER TABLE webhooks ADD COLUMN send_traceparent boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhooks DROP COLUMN send_traceparent`);
    await q.query(`ALTER TABLE delivery_attempts DROP COLUMN trace_id`);
    await q.query(`ALTER TABLE events DROP COLUMN trace_parent`);
  }
}
