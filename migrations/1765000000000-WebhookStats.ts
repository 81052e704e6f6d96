import type { MigrationInterface, QueryRunner } from 'typeorm';

// Per-webhook hourly rollups of the attempt log, for Webhook.stats and the
// console's webhook list: the attempt-recording statement adds each batch to
// its (webhook, hour) rows, so figures for 100 webhooks over 24 hours read at
// most 2,400 small rows through the primary key, never the attempt log.
// Rows older than the longest window (720 hours) are pruned by maintenance.
// delivery_queue_webhook gains delivery_id: a webhook's pending count and its
// oldest pending delivery (UUIDv7 ids carry their creation time) are then
// answered from the index alone.
export class WebhookStats1765000000000 implements MigrationInterface {
  name = 'WebhookStats1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE webhook_hourly_stats (
        webhook_id uuid NOT NULL,
        hour timestamptz NOT NULL,
        attempts integer NOT NULL,
        succeeded integer NOT NULL,
        failed integer NOT NULL,
        duration_ms bigint NOT NULL,
        last_attempt_at timestamptz NOT NULL,
        PRIMARY KEY (webhook_id, hour)
      ) WITH (fillfactor = 70)`);
    await q.query(`
      INSERT INTO webhook_hourly_stats (webhook_id, hour, attempts, succeeded, failed, duration_ms, last_attempt_at)
      SELECT webhook_id, date_trunc('hour', started_at), count(*), count(*) FILTER (WHERE outcome = 'SUCCESS'),
             count(*) FILTER (WHERE outcome <> 'SUCCESS'), sum(duration_ms), max(started_at)
      FROM delivery_attempts WHERE started_at > now() - interval '720 hours'
      GROUP BY 1, 2`);
    await q.query(`DROP INDEX delivery_queue_webhook`);
    await q.query(`CREATE INDEX delivery_queue_webhook ON delivery_queue (webhook_id, delivery_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX delivery_queue_webhook`);
    await q.query(`CREATE INDEX delivery_queue_webhook ON delivery_queue (webhook_id)`);
    await q.query(`DROP TABLE webhook_hourly_stats`);
  }
}
