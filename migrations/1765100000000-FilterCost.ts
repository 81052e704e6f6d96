import type { MigrationInterface, QueryRunner } from 'typeorm';
import { compileFilter } from '../src/domain/filter.js';

// The cost bound of payload filters (domain/filter.ts says how it is counted):
// - webhook_subscriptions.filter_terms: what the filter costs per field, with it
//   whenever there is a filter. Filters saved before are compiled again here
//   (same meaning; the path is printed from the predicate tree now), without
//   the new weight limit: the 4 KB limit they were saved under keeps them
//   near it (an $in's repeated values count once).
// - events.filter_reach: the fields of the payload that reach more values
//   than REACH_FLOOR, NULL for almost every event; the publishing statement
//   prices each subscribed filter against it.
// - hookline_filter_refused(): raises SQLSTATE HL001 with the event, the
//   webhook and the filter's terms as JSON in the detail, so the publish is
//   refused (storing nothing) and the service names the field at fault.
export class FilterCost1765100000000 implements MigrationInterface {
  name = 'FilterCost1765100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhook_subscriptions ADD COLUMN filter_terms jsonb`);
    const rows = (await q.query(`SELECT id, filter FROM webhook_subscriptions WHERE filter IS NOT NULL`)) as {
      id: string;
      filter: unknown;
    }[];
    for (const { id, filter } of rows) {
      const compiled = compileFilter(filter, `webhook_subscriptions ${id} filter`, { limits: false });
      await q.query(
        `UPDATE webhook_subscriptions SET filter_path = $2::jsonpath, filter_terms = $3::jsonb WHERE id = $1`,
        [id, compiled.path, JSON.stringify(compiled.terms)],
      );
    }
    await q.query(
      `ALTER TABLE webhook_subscriptions ADD CONSTRAINT webhook_subscriptions_filter_terms CHECK ((filter IS NULL) = (filter_terms IS NULL))`,
    );
    await q.query(`ALTER TABLE events ADD COLUMN filter_reach jsonb`);
    await q.query(`
      CREATE FUNCTION hookline_filter_refused(event_id uuid, webhook_id uuid, terms jsonb) RETURNS boolean
      LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'a subscribed filter costs more than allowed against this payload'
          USING ERRCODE = 'HL001',
                DETAIL = json_build_object('event', event_id, 'webhook', webhook_id, 'terms', terms)::text;
      END
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION hookline_filter_refused(uuid, uuid, jsonb)`);
    await q.query(`ALTER TABLE events DROP COLUMN filter_reach`);
    await q.query(`ALTER TABLE webhook_subscriptions DROP CONSTRAINT webhook_subscriptions_filter_terms`);
    await q.query(`ALTER TABLE webhook_subscriptions DROP COLUMN filter_terms`);
  }
}
