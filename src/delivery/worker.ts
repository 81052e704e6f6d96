import type pg from 'pg';
import type { Logger } from '../logger.js';
import { decide, shouldDisableForFailures, type HealthPolicy } from '../domain/outcome.js';
import type { RetryPolicy } from '../domain/backoff.js';
import type { FeedPublisher } from '../feed/feed.js';
import type { PgListener } from '../storage/listener.js';
import { claimDue, disableWebhook, type AttemptRecord, type ClaimedDelivery, type WebhookHealth } from '../storage/sql/deliveries.js';
import type { AttemptNotice } from '../feed/feed.js';
import type { AttemptOutcome } from '../domain/outcome.js';
import type { DeliveryStatus } from '../domain/statuses.js';
import { DUE_CHANNEL } from '../storage/sql/events.js';
import { AttemptRecorder } from './recorder.js';
import type { Sender } from './sender.js';

export interface WorkerOptions {
  concurrency: number;
  perWebhookConcurrency: number;
  pollIntervalMs: number;
  /** How long a claim holds a delivery; past it, another worker may take it. */
  leaseMs: number;
  retry: RetryPolicy;
  health: HealthPolicy;
  now?: () => number;
  random?: () => number;
}

// Claims at most this many per statement; larger batches only add latency.
const CLAIM_BATCH = 100;

export class Worker {
  private running = false;
  private passing = false;
  private again = false;
  private inflight = 0;
  private readonly perWebhook = new Map<string, number>();
  private readonly tasks = new Set<Promise<void>>();
  private pollTimer: NodeJS.Timeout | null = null;
  private readonly recorder: AttemptRecorder;
  private readonly now: () => number;
  private readonly random: () => number;
  private unlisten: (() => void) | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly listener: PgListener,
    private readonly sender: Sender,
    private readonly feed: FeedPublisher,
    private readonly log: Logger,
    private readonly opts: WorkerOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.recorder = new AttemptRecorder(pool, log, (written, health) => {
      this.feed.attempts(written.map(({ rec, id }) => toNotice(rec, id)));
      if (health.length) void this.checkHealth(health);
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.unlisten = this.listener.on(DUE_CHANNEL, () => this.wake());
    this.listener.onReconnect(() => this.wake());
    // Polling is the guarantee: a missed notification or a retry coming due is
    // picked up within one interval.
    this.pollTimer = setInterval(() => this.wake(), this.opts.pollIntervalMs);
    this.wake();
  }

  get inFlight(): number {
    return this.inflight;
  }

  /** Ask for a claim pass now; passes never overlap, a request during one runs another after it. */
  wake(): void {
    if (!this.running) return;
    if (this.passing) {
      this.again = true;
      return;
    }
    void this.pass();
  }

  private async pass(): Promise<void> {
    this.passing = true;
    try {
      do {
        this.again = false;
        const free = this.opts.concurrency - this.inflight;
        if (free <= 0) break;
        const limit = Math.min(free, CLAIM_BATCH);
        const busy = [...this.perWebhook];
        const rows = await claimDue(this.pool, {
          limit,
          perWebhookCap: this.opts.perWebhookConcurrency,
          busyWebhooks: busy.map(([id]) => id),
          busyCounts: busy.map(([, n]) => n),
          saturated: busy.filter(([, n]) => n >= this.opts.perWebhookConcurrency).map(([id]) => id),
          leaseMs: this.opts.leaseMs,
        });
        for (const row of rows) this.launch(row);
        if (rows.length === limit) this.again = true;
      } while (this.again && this.running);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'claiming deliveries failed; the next poll tries again');
    } finally {
      this.passing = false;
    }
  }

  private launch(row: ClaimedDelivery): void {
    if (!row.send) return;
    this.inflight++;
    this.perWebhook.set(row.webhook_id, (this.perWebhook.get(row.webhook_id) ?? 0) + 1);
    const task = this.deliver(row)
      .catch((err) => this.log.error({ err, deliveryId: row.id }, 'delivery task failed; its lease will expire and it is retried'))
      .finally(() => {
        this.inflight--;
        const n = (this.perWebhook.get(row.webhook_id) ?? 1) - 1;
        if (n <= 0) this.perWebhook.delete(row.webhook_id);
        else this.perWebhook.set(row.webhook_id, n);
        this.tasks.delete(task);
        this.wake();
      });
    this.tasks.add(task);
  }

  private async deliver(row: ClaimedDelivery): Promise<void> {
    const sent = await this.sender.send({
      url: row.destination_url,
      eventId: row.event_id,
      body: row.body,
      bearerToken: row.bearer_token,
      hmacSecret: row.hmac_secret,
    });
    const decision = decide(sent.result, row.attempt_count, this.opts.retry, this.now(), this.random());
    await this.recorder.record({
      deliveryId: row.id,
      webhookId: row.webhook_id,
      eventId: row.event_id,
      attemptNumber: row.attempt_count,
      outcome: decision.outcome,
      responseStatus: sent.responseStatus,
      responseBody: sent.responseBody,
      errorMessage: sent.errorMessage,
      durationMs: sent.durationMs,
      startedAt: sent.startedAt,
      nextStatus: decision.deliveryStatus,
      nextAttemptAt: decision.nextAttemptAt,
    });
    if (decision.disableReason) await this.disable(row.webhook_id, decision.disableReason);
  }

  private async checkHealth(rows: WebhookHealth[]): Promise<void> {
    for (const h of rows) {
      if (h.status !== 'ACTIVE') continue;
      if (shouldDisableForFailures(h.failing_since, h.consecutive_failures, this.now(), this.opts.health)) {
        const since = h.failing_since!.toISOString();
        await this.disable(h.id, `every attempt failed since ${since} (${h.consecutive_failures} failed attempts)`);
      }
    }
  }

  private async disable(webhookId: string, reason: string): Promise<void> {
    try {
      if (await disableWebhook(this.pool, webhookId, reason)) {
        this.log.warn({ webhookId, reason }, 'webhook disabled');
        this.feed.webhookStatus({ webhookId, status: 'DISABLED', reason });
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message, webhookId }, 'disabling webhook failed');
    }
  }

  /** Stop claiming, let attempts in flight finish (bounded), write their results. */
  async stop(timeoutMs: number): Promise<void> {
    this.running = false;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.unlisten?.();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const settled = Promise.allSettled([...this.tasks]).then(() => this.recorder.drain());
    const result = await Promise.race([settled, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.log.warn({ inFlight: this.inflight }, 'shutdown timeout: attempts still in flight are retried after their lease');
    }
  }
}

function toNotice(rec: AttemptRecord, id: string): AttemptNotice {
  return {
    id,
    deliveryId: rec.deliveryId,
    webhookId: rec.webhookId,
    eventId: rec.eventId,
    attemptNumber: rec.attemptNumber,
    outcome: rec.outcome as AttemptOutcome,
    responseStatus: rec.responseStatus,
    errorMessage: rec.errorMessage,
    durationMs: rec.durationMs,
    startedAt: rec.startedAt.toISOString(),
    deliveryStatus: rec.nextStatus as DeliveryStatus,
    nextAttemptAt: rec.nextAttemptAt?.toISOString() ?? null,
  };
}
