import type pg from 'pg';
import type { Logger } from '../logger.js';
import { decide, shouldDisableForFailures, type AttemptOutcome, type HealthPolicy } from '../domain/outcome.js';
import type { RetryPolicy } from '../domain/backoff.js';
import type { DeliveryStatus } from '../domain/statuses.js';
import type { AttemptNotice, FeedPublisher } from '../feed/feed.js';
import type { PgListener } from '../storage/listener.js';
import {
  claimDue,
  disableWebhook,
  releaseClaims,
  type AttemptRecord,
  type ClaimedDelivery,
  type WebhookHealth,
} from '../storage/sql/deliveries.js';
import { DUE_CHANNEL } from '../storage/sql/events.js';
import { AttemptRecorder } from './recorder.js';
import type { Sender } from './sender.js';

export interface WorkerOptions {
  /** Requests in flight at once, all webhooks together. */
  concurrency: number;
  /** Requests in flight at once to one webhook: a slow destination cannot take every slot. */
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
// A lane holds this many times perWebhookConcurrency (in flight + waiting) and
// is refilled when its waiting room falls to half. Measured on a 20,000-event
// drain to one webhook: at 2× the lane ran dry while the refill claim was out.
export const LANE_DEPTH = 4;
// Attempts waiting to be written before claiming pauses (the database is slow or away).
const MAX_UNRECORDED = 5_000;
// Envelope bytes held in lanes before claiming pauses: 400 claimed deliveries
// of 256 KiB payloads would otherwise be 100 MB in memory.
const MAX_HELD_BYTES = 16 * 1024 * 1024;

interface Lane {
  active: number;
  queue: ClaimedDelivery[];
  /** The last claim filled this lane to the brim, so more are probably due. */
  maybeMore: boolean;
}

/**
 * Claims due deliveries and sends them. Each webhook has a lane: up to
 * perWebhookConcurrency requests in flight and as many claimed, waiting their
 * turn, so that a slot freed by a response is refilled without a round trip
 * to the database. Measured: freeing slots only after the attempt was written
 * and the next claim returned kept the HTTP client busy a third of the time.
 */
export class Worker {
  private running = false;
  private passing = false;
  private again = false;
  private active = 0;
  private held = 0;
  private heldBytes = 0;
  /** The last pass stopped for want of room, not of due deliveries. */
  private full = false;
  private unrecorded = 0;
  private readonly lanes = new Map<string, Lane>();
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

  /** Ask for a claim pass now; passes never overlap, a request during one runs another after it. */
  wake(): void {
    if (!this.running) return;
    if (this.passing) {
      this.again = true;
      return;
    }
    void this.pass();
  }

  private get laneDepth(): number {
    return this.opts.perWebhookConcurrency * LANE_DEPTH;
  }

  private async pass(): Promise<void> {
    this.passing = true;
    try {
      do {
        this.again = false;
        const room = this.opts.concurrency * 2 - this.held;
        this.full = room <= 0 || this.unrecorded >= MAX_UNRECORDED || this.heldBytes >= MAX_HELD_BYTES;
        if (this.full) break;
        const limit = Math.min(room, CLAIM_BATCH);
        const busy = [...this.lanes].map(([id, l]) => [id, l.active + l.queue.length] as const);
        const rows = await claimDue(this.pool, {
          limit,
          perWebhookCap: this.laneDepth,
          busyWebhooks: busy.map(([id]) => id),
          busyCounts: busy.map(([, n]) => n),
          saturated: busy.filter(([, n]) => n >= this.laneDepth).map(([id]) => id),
          leaseMs: this.opts.leaseMs,
        });
        const got = new Map<string, number>();
        for (const row of rows) {
          got.set(row.webhook_id, (got.get(row.webhook_id) ?? 0) + 1);
          if (row.send) this.enqueue(row);
        }
        const before = new Map(busy);
        let filled = false;
        for (const [id, lane] of this.lanes) {
          const room = this.laneDepth - (before.get(id) ?? 0);
          if (room > 0) lane.maybeMore = (got.get(id) ?? 0) >= room;
          if (room > 0 && lane.maybeMore) filled = true;
        }
        this.pump();
        // A lane filled to the brim is skipped by the next claim, which then
        // reaches the deliveries of other webhooks queued behind its backlog.
        // Found by the bad-receivers drill: 2,000 due deliveries of a
        // never-answering destination hid a healthy webhook's from every claim.
        if (rows.length === limit || filled) this.again = true;
      } while (this.again && this.running);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'claiming deliveries failed; the next poll tries again');
    } finally {
      this.passing = false;
    }
  }

  private enqueue(row: ClaimedDelivery): void {
    let lane = this.lanes.get(row.webhook_id);
    if (!lane) this.lanes.set(row.webhook_id, (lane = { active: 0, queue: [], maybeMore: false }));
    lane.queue.push(row);
    this.held++;
    this.heldBytes += row.body.length;
  }

  /** Starts waiting deliveries while their lane and the worker have free slots. */
  private pump(): void {
    for (const [id, lane] of this.lanes) {
      while (
        lane.queue.length &&
        lane.active < this.opts.perWebhookConcurrency &&
        this.active < this.opts.concurrency
      ) {
        this.launch(lane, lane.queue.shift()!);
      }
      if (this.active >= this.opts.concurrency) break;
      if (lane.active === 0 && lane.queue.length === 0) this.lanes.delete(id);
    }
  }

  private launch(lane: Lane, row: ClaimedDelivery): void {
    lane.active++;
    this.active++;
    const task = this.deliver(row, () => {
      lane.active--;
      this.active--;
      this.held--;
      this.heldBytes -= row.body.length;
      this.pump();
      // Refill a lane once half of its waiting room is used up, and only if
      // more are known to be due: a claim per response cost as much as the response.
      // After a pass that ran out of room, claim again once half the room is back
      // (a claim per response made a 1,000-webhook fan-out slower, not faster).
      const roomBack = this.full && this.held <= this.opts.concurrency;
      if (roomBack || (lane.maybeMore && lane.queue.length <= (this.laneDepth - this.opts.perWebhookConcurrency) / 2))
        this.wake();
    })
      .catch((err) =>
        this.log.error({ err, deliveryId: row.id }, 'delivery task failed; its lease will expire and it is retried'),
      )
      .finally(() => this.tasks.delete(task));
    this.tasks.add(task);
  }

  private async deliver(row: ClaimedDelivery, sent: () => void): Promise<void> {
    let released = false;
    const release = () => {
      if (!released) sent();
      released = true;
    };
    try {
      const result = await this.sender.send({
        url: row.destination_url,
        eventId: row.event_id,
        body: row.body,
        bearerToken: row.bearer_token,
        hmacSecret: row.hmac_secret,
      });
      // The destination's slot is free as soon as it has answered; writing the result is ours.
      release();
      const decision = decide(result.result, row.attempt_count, this.opts.retry, this.now(), this.random());
      this.unrecorded++;
      try {
        await this.recorder.record({
          deliveryId: row.id,
          webhookId: row.webhook_id,
          eventId: row.event_id,
          attemptNumber: row.attempt_count,
          outcome: decision.outcome,
          responseStatus: result.responseStatus,
          responseBody: result.responseBody,
          errorMessage: result.errorMessage,
          durationMs: result.durationMs,
          startedAt: result.startedAt,
          nextStatus: decision.deliveryStatus,
          nextAttemptAt: decision.nextAttemptAt,
        });
      } finally {
        this.unrecorded--;
      }
      if (decision.disableReason) await this.disable(row.webhook_id, decision.disableReason);
    } finally {
      release();
    }
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

  /** Stop claiming, hand back claims not yet started, let attempts in flight finish (bounded), write their results. */
  async stop(timeoutMs: number): Promise<void> {
    this.running = false;
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.unlisten?.();
    const unsent = [...this.lanes.values()].flatMap((l) => l.queue.splice(0));
    this.held -= unsent.length;
    for (const r of unsent) this.heldBytes -= r.body.length;
    await releaseClaims(
      this.pool,
      unsent.map((r) => ({ id: r.id, attempt: r.attempt_count })),
    ).catch((err: Error) =>
      this.log.warn(
        { err: err.message, claims: unsent.length },
        'could not hand back claims; they are retried after their lease',
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const settled = Promise.allSettled([...this.tasks]).then(() => this.recorder.drain());
    const result = await Promise.race([settled, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.log.warn(
        { inFlight: this.active },
        'shutdown timeout: attempts still in flight are retried after their lease',
      );
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
