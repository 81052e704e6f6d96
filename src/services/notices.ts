import type pg from 'pg';
import { newUuidV7 } from '../domain/random.js';
import { NOTICE_RESOURCE, eventType, type EventAction } from '../domain/catalog.js';
import type { Logger } from '../logger.js';
import { inTransaction } from '../storage/sql/db.js';
import { insertEvents, type NewEvent } from '../storage/sql/events.js';
import { dropNotices, takeNotices, type PendingNotice } from '../storage/sql/notices.js';
import { unparkPaced } from '../storage/sql/pacing.js';
import { liveAccountByKey } from '../storage/sql/accounts.js';

// webhook.failing, webhook.recovered and webhook.disabled (delivery contract,
// revision 3, "Notices"): the outbox rows written with each change become
// events of resource WEBHOOKS in the webhook's account, and in the notices
// account (HOOKLINE_NOTICES_ACCOUNT) when one is set, fanned out like any
// event but never to the webhook they are about. A recovery also releases
// the rows its circuit parked, paced like a resume, in the same transaction.

/** Notices turned into events per transaction. */
const BATCH = 50;

export interface NoticeOptions {
  /** Where the console is served, for the notices' console_url (HOOKLINE_PUBLIC_URL). */
  publicUrl: string;
  /** HOOKLINE_NOTICES_ACCOUNT: an account key that also receives every account's notices. */
  noticesAccount: string | null;
  /** Deliveries released per second when a circuit closes (HOOKLINE_REPLAY_RATE). */
  releaseRate: number;
}

export class Notices {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
    private readonly opts: NoticeOptions,
  ) {}

  /** Publishes the notices waiting in the outbox; calls during a flush run one more after it. */
  flush(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.loop().finally(() => (this.running = null));
    return this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      while ((await this.flushBatch()) === BATCH);
    } while (this.again);
  }

  /** One transaction: the oldest notices no one else is taking, published and deleted. Returns how many. */
  private async flushBatch(): Promise<number> {
    return inTransaction(this.pool, async (db) => {
      const notices = await takeNotices(db, BATCH);
      if (notices.length === 0) return 0;
      const everyAccount = this.opts.noticesAccount ? await liveAccountByKey(db, this.opts.noticesAccount) : null;
      const events = notices.flatMap((n) => {
        const accounts = new Set([n.account_id, ...(everyAccount ? [everyAccount] : [])]);
        return [...accounts].map((accountId) => this.event(n, accountId));
      });
      await insertEvents(db, events);
      for (const n of notices) {
        if (n.action === 'RECOVERED' && n.sending) await unparkPaced(db, n.webhook_id, this.opts.releaseRate);
      }
      await dropNotices(
        db,
        notices.map((n) => n.id),
      );
      this.log.info(
        { notices: notices.map((n) => ({ webhookId: n.webhook_id, action: n.action })) },
        'webhook notices published',
      );
      return notices.length;
    });
  }

  private event(n: PendingNotice, accountId: string): NewEvent {
    const action = n.action as EventAction;
    const payload = {
      id: n.webhook_id,
      name: n.name,
      destination_host: new URL(n.destination_url).host,
      status: n.status,
      reason: n.reason,
      consecutive_failures: n.consecutive_failures,
      failing_since: n.failing_since?.toISOString() ?? null,
      console_url: `${this.opts.publicUrl.replace(/\/+$/, '')}/console#/webhooks/${encodeURIComponent(n.webhook_id)}`,
    };
    return {
      id: newUuidV7(),
      accountId,
      resource: NOTICE_RESOURCE,
      action,
      type: eventType(NOTICE_RESOURCE, action),
      payload: JSON.stringify(payload),
      occurredAt: n.created_at,
      // Besides the row lock (one instance takes a notice), the outbox row's id makes the publish idempotent.
      idempotencyKey: `hookline.notice.${n.id}`,
      aboutWebhookId: n.webhook_id,
    };
  }
}
