import type { MigrationInterface, QueryRunner } from 'typeorm';

// Erasure (contract revision 3, eraseObject): events.erased_at is set when an
// event's payload was replaced by {id} alone. Nullable without a default:
// adding it rewrites nothing, however large the table. No index: erasure
// walks an object's events through events_object ((payload ->> 'id'),
// resource, created_at DESC, id DESC), which still finds an erased event
// since its payload keeps the id; replays and retries read erased_at from
// rows they have found by other indexes.
export class Erasure1765500000000 implements MigrationInterface {
  name = 'Erasure1765500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE events ADD COLUMN erased_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE events DROP COLUMN erased_at`);
  }
}
