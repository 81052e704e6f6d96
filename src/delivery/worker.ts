import type pg from 'pg';
import type { Logger } from '../logger.js';
import type { Clock } from '../domain/clock.js';
import { decide, decideProbe, shouldDisableForFailures, type HealthPolicy } from '../domain/outcome.js';
import { DEFAULT_CIRCUIT, START_GRACE_MS, type CircuitPolicy } from '../domain/protection.js';
import { startProbes } from '../storage/sql/circuit.js';
import type { RetryPolicy } from '../domain/backoff.js';
import type { AttemptNotice, FeedPublisher } from '../feed/feed.js';
import type { PgListener } from '../storage/listener.js';
import { disableWebhook } from '../storage/sql/webhooks.js';
import type { FastClaim, InsertedEvent } from '../storage/sql/events.js';
import {
  cancelDeliveries,
  claimDue,
  FIRST_ACCOUNT,
  releaseClaims,
  type AttemptRecord,
  type WebhookHealth,
} from '../storage/sql/deliveries.js';
import type { ClaimedDelivery } from '../storage/sql/claim.js';
import { DUE_CHANNEL } from '../storage/sql/channels.js';
import { Lanes, type ClaimSizing, type LaneItem } from './lanes.js';
import { AttemptRecorder } from './recorder.js';
import type { OutgoingMessage, Sender } from './sender.js';
import { IdleWatch } from './idle.js';
import { OutgoingMessages } from './outgoing.js';
import type { SecretVault } from '../services/secrets.js';
import { SecretKeyError } from '../domain/secret-box.js';
import { SendGate, type Admission } from './send-gate.js';
import { FailureStreaks } from './streaks.js';
import type { Telemetry } from '../telemetry/bus.js';
import { traceIdOf, untracedAttemptParent, type Tracing } from '../telemetry/tracing.js';

export interface WorkerOptions {
  /** Requests in flight at once, all webhooks together. */
  concurrency: number;
  /** Requests in flight at once to one webhook: a slow destination cannot take every slot. */
  perWebhookConcurrency: number;
  pollIntervalMs: number;
  /** How long a claim holds a delivery (domain/delivery-policy.ts, leaseFor). */
  leaseMs: number;
  retry: RetryPolicy;
  health: HealthPolicy;
  clock: Clock;
  /** The process's tracing (telemetry/tracing.ts); null or absent: off, and no span is made. */
  tracing?: Tracing | null;
  /** The circuit breaker's settings; absent: domain/protection.ts's. */
  circuit?: CircuitPolicy;
  /** Publishes the notices a circuit change or a disable wrote (services/notices.ts); absent: left to others. */
  notices?: { flush(): Promise<void> } | null;
}

// Claims at most this many per statement; larger batches only add latency.
const CLAIM_BATCH = 100;
// Attempts waiting to be written before claiming pauses (the database is slow or away).
const MAX_UNRECORDED = 5_000;
// How long a worker that cannot open a webhook's secrets leaves its deliveries
// to other workers before trying again (the key may have been added meanwhile).
const KEYLESS_RETRY_MS = 60_000;
// Requests started per turn of the event loop at most: starting one costs ~0.4 ms of CPU here, so a
// claim of 100 started at once kept every other callback (another account's publish among them)
// waiting 40 ms; between chunks, the I/O that waits runs first.
const PUMP_CHUNK = 16;
// A delivery the send gate could not decide (a change of its webhook being committed) is tried again after this.
const GATE_RETRY_MS = 10;
// Envelope bytes held in lanes before claiming pauses: 400 claimed deliveries
// of 256 KiB payloads would otherwise be 100 MB in memory.
const MAX_HELD_BYTES = 16 * 1024 * 1024;

interface Claimed extends LaneItem {
  row: ClaimedDelivery;
  version: string;
  /** A rate-limited delivery not started by then is handed back unsent (domain/protection.ts, START_GRACE_MS). */
  startBy: number;
}

/** `at`: when the claim was asked for, on the worker's clock (no later than the database's claim time). */
const claimed = (row: ClaimedDelivery, at: number): Claimed => ({
  id: row.id,
  webhookId: row.webhook_id,
  accountId: row.account_id,
  bytes: row.body.length,
  version: row.version,
  startBy: row.rate_limited ? at + START_GRACE_MS : Infinity,
  row,
});

/**
 * Claims due deliveries and sends them; the states and transitions are in
 * src/delivery/README.md. Each webhook has a lane (lanes.ts): up to
 * perWebhookConcurrency requests in flight and more claimed, waiting their
 * turn, so that a slot freed by a response is refilled without a round trip
 * to the database. Measured: freeing slots only after the attempt was written
 * and the next claim returned kept the HTTP client busy a third of the time.
 */
/**
 * new → running (start) → draining (stop: no claiming, no new sends; what is
 * in flight finishes and is written) → stopped. A worker never starts again.
 */
export type WorkerMode = 'new' | 'running' | 'draining' | 'stopped';

const TRANSITIONS: Record<WorkerMode, readonly WorkerMode[]> = {
  new: ['running', 'stopped'],
  running: ['draining'],
  draining: ['stopped'],
  stopped: [],
};

export class Worker {
  private current: WorkerMode = 'new';
  private stopping: Promise<void> | null = null;
  private passing = false;
  /** The claim pass running now, if any: stop() waits for it before handing claims back. */
  private currentPass: Promise<void> = Promise.resolve();
  private again = false;
  private unrecorded = 0;
  private readonly lanes: Lanes<Claimed>;
  /** The account the next claim starts after (claimDue serves accounts in turn). */
  private cursor = FIRST_ACCOUNT;
  private readonly tasks = new Set<Promise<void>>();
  private pollTimer: NodeJS.Timeout | null = null;
  private readonly recorder: AttemptRecorder;
  private unlisten: (() => void) | null = null;
  private readonly idle = new IdleWatch();
  private readonly gate: SendGate;
  private readonly messages: OutgoingMessages;
  private gateRetry: NodeJS.Timeout | null = null;
  private pumpQueued = false;
  /** A claim deferred deliveries for their webhook's limits: a pass runs when the first comes due. */
  private deferredWake: { at: number; timer: NodeJS.Timeout } | null = null;
  private readonly streaks: FailureStreaks;
  /** Webhooks whose secrets this worker cannot open, until when it leaves their deliveries to others. */
  private readonly keyless = new Map<string, number>();
  /** Key ids this worker lacks, as /readyz reports them. */
  readonly missingKeys = new Set<string>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly listener: PgListener,
    private readonly sender: Sender,
    private readonly feed: FeedPublisher,
    vault: SecretVault,
    private readonly telemetry: Telemetry,
    private readonly log: Logger,
    private readonly opts: WorkerOptions,
  ) {
    this.gate = new SendGate(pool, log);
    this.messages = new OutgoingMessages(vault);
    this.streaks = new FailureStreaks((opts.circuit ?? DEFAULT_CIRCUIT).threshold);
    this.lanes = new Lanes({
      // One account may use what the whole worker could before accounts; the quarter above that is
      // only ever another account's, so its deliveries start at once beside one account's slow
      // backlog (the accounts-fairness bench row: B's p99 went from 6.5 × its p99 alone to 5.4 ×, 148 ms
      // against 27.1; what remains is B's publishes, slowed by A's waves on the same cores, BENCHMARKS.md).
      concurrency: opts.concurrency + Math.ceil(opts.concurrency / 4),
      perAccountConcurrency: opts.concurrency,
      perWebhook: opts.perWebhookConcurrency,
      // One account holds what the whole worker held before accounts (2 × concurrency); the half of
      // concurrency above that is only ever another account's: the accounts-fairness bench row.
      maxHeld: opts.concurrency * 2 + Math.ceil(opts.concurrency / 2),
      perAccount: opts.concurrency * 2,
      maxHeldBytes: MAX_HELD_BYTES,
      claimBatch: CLAIM_BATCH,
    });
    this.recorder = new AttemptRecorder(
      pool,
      log,
      (written, health) => {
        this.feed.attempts(written.map(({ rec, id }) => toNotice(rec, id)));
        for (const { rec, applied } of written) {
          this.telemetry.emit('attempt', { outcome: rec.outcome, seconds: rec.durationMs / 1000 });
          if (applied && (rec.nextStatus === 'SUCCEEDED' || rec.nextStatus === 'FAILED')) {
            this.telemetry.emit('finished', { status: rec.nextStatus, deliveries: 1 });
          }
        }
        this.streaks.written(
          written.filter(({ rec }) => rec.outcome !== 'SUCCESS').map(({ rec }) => rec.webhookId),
          health,
        );
        if (health.length) {
          const accounts = new Map(written.map(({ rec }) => [rec.webhookId, rec.accountId]));
          this.track(this.checkHealth(health, accounts));
          const changed = health.filter((h) => (h.circuit_was === 'CLOSED') !== (h.circuit === 'CLOSED'));
          const opened = changed.filter((h) => h.circuit !== 'CLOSED').length;
          if (opened) this.telemetry.emit('circuitOpened', { circuits: opened });
          if (changed.length) this.flushNotices();
        }
      },
      opts.circuit ?? DEFAULT_CIRCUIT,
    );
  }

  get mode(): WorkerMode {
    return this.current;
  }

  private enter(next: WorkerMode): void {
    if (!TRANSITIONS[this.current].includes(next)) {
      throw new Error(`worker cannot go from ${this.current} to ${next}`);
    }
    this.current = next;
  }

  private get running(): boolean {
    return this.current === 'running';
  }

  start(): void {
    this.enter('running');
    this.unlisten = this.listener.on(DUE_CHANNEL, () => this.wake());
    this.listener.onReconnect(() => this.wake());
    // Polling is the guarantee: a missed notification or a retry coming due is
    // picked up within one interval.
    this.pollTimer = setInterval(() => {
      this.wake();
      this.track(this.probe());
    }, this.opts.pollIntervalMs);
    this.wake();
    this.track(this.probe());
  }

  /** Ask for a claim pass now; passes never overlap, a request during one runs another after it. */
  wake(): void {
    if (!this.running) return;
    if (this.passing) {
      this.again = true;
      return;
    }
    this.currentPass = this.pass();
  }

  /**
   * The publishing statement's fast path (storage/sql/events.ts): runs it with
   * how much of what it creates this worker can take now, sized as a claim
   * would be (nothing when stopping, full, or writes backed up), and starts
   * what it claimed.
   */
  async publishing(run: (claim: FastClaim | undefined) => Promise<InsertedEvent[]>): Promise<InsertedEvent[]> {
    const sizing = this.running ? this.sizing() : null;
    const rows = await run(sizing ? { ...sizing, leaseMs: this.opts.leaseMs } : undefined);
    if (sizing) this.adopt(rows.flatMap((r) => r.claimed));
    return rows;
  }

  /** The lanes' sizing, with the webhooks this worker has no key for skipped like saturated ones. */
  private sizing(): ClaimSizing | null {
    const sizing = this.lanes.sizing(this.unrecorded >= MAX_UNRECORDED);
    if (!sizing || this.keyless.size === 0) return sizing;
    const now = this.opts.clock.now();
    for (const [id, until] of this.keyless) if (until <= now) this.keyless.delete(id);
    return { ...sizing, saturated: [...sizing.saturated, ...this.keyless.keys()] };
  }

  /** Deliveries the publishing statement claimed for this worker: started like claimed ones. */
  private adopt(claimedRows: ClaimedDelivery[]): void {
    // Claimed by a publish that raced the shutdown: handed back, as stop() hands back what waits.
    if (!this.running) return void this.handBack(claimedRows);
    const rows = this.withoutKeyless(claimedRows);
    if (rows.length === 0) return;
    this.lanes.take(rows.map((r) => claimed(r, this.opts.clock.now())));
    this.idle.bump();
    this.pump();
  }

  /** Attempts in flight now. */
  get inFlight(): number {
    return this.lanes.inFlight;
  }

  /**
   * Resolves once the worker is idle: a claim pass that started after the
   * call (and after the last attempt ended) found nothing due, and no attempt
   * is in flight or unwritten. Tests use it to prove that something was NOT
   * sent, without sleeping.
   */
  quiesce(timeoutMs = 10_000): Promise<void> {
    return this.idle.wait(
      () => this.wake(),
      () =>
        this.tasks.size || this.unrecorded
          ? `${this.lanes.inFlight} in flight, ${this.tasks.size} tasks, ${this.unrecorded} unrecorded`
          : null,
      timeoutMs,
    );
  }

  /** The next chunk of startable deliveries, after the I/O that waits (another account's publish, answers). */
  private pumpAgain(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** Open circuits whose probe is due get it (storage/sql/circuit.ts); the claim then sends it. */
  private async probe(): Promise<void> {
    const started = await startProbes(this.pool, this.opts.leaseMs);
    if (started) this.telemetry.emit('probes', { probes: started });
  }

  private flushNotices(): void {
    const notices = this.opts.notices;
    if (notices) this.track(notices.flush());
  }

  /** Runs a pass when the first delivery a claim deferred is due (none is notified of it). */
  private wakeAt(at: Date | null): void {
    if (!at || !this.running) return;
    const when = at.getTime();
    if (this.deferredWake && this.deferredWake.at <= when) return;
    if (this.deferredWake) clearTimeout(this.deferredWake.timer);
    const timer = setTimeout(
      () => {
        this.deferredWake = null;
        this.wake();
      },
      Math.max(0, when - this.opts.clock.now()),
    );
    this.deferredWake = { at: when, timer };
  }

  private async pass(): Promise<void> {
    this.passing = true;
    const token = this.idle.passStarted();
    let claimedNothing = false;
    try {
      do {
        this.again = false;
        const sizing = this.sizing();
        if (!sizing) break;
        const asked = this.opts.clock.now();
        const claim = await claimDue(this.pool, { ...sizing, leaseMs: this.opts.leaseMs }, this.cursor);
        this.cursor = claim.cursor;
        this.wakeAt(claim.wakeAt);
        const claimedRows = claim.rows;
        const rows = this.withoutKeyless(claimedRows);
        claimedNothing = rows.length === 0;
        const gone = rows.filter((r) => r.gone).map((r) => r.id);
        if (gone.length) {
          await cancelDeliveries(this.pool, gone);
          this.telemetry.emit('finished', { status: 'CANCELLED', deliveries: gone.length });
        }
        const items = rows.filter((r) => r.send).map((r) => claimed(r, asked));
        if (this.lanes.accept(sizing, items) || rows.length === sizing.limit) this.again = true;
        this.pump();
      } while (this.again && this.running);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'claiming deliveries failed; the next poll tries again');
    } finally {
      this.passing = false;
      this.idle.passEnded(token, claimedNothing);
    }
  }

  /** Starts waiting deliveries while their lane and the worker have free slots, as the send gate admits them. */
  private pump(): void {
    // Stopping: what a pass still claims waits, and stop() hands it back.
    if (!this.running) return;
    const startable = this.lanes.startable(PUMP_CHUNK);
    if (startable.length === PUMP_CHUNK) this.pumpAgain();
    const items = this.streaks.empty
      ? startable
      : startable.filter((i) => !this.streaks.tripping(i.webhookId) || i.row.probe);
    if (items.length < startable.length) this.lanes.putBack(startable.filter((i) => !items.includes(i)));
    if (items.length === 0) return;
    // Usually the open window knows every webhook: decided at once, no promise, no task.
    const known = this.gate.admitKnown(items);
    if (known) this.admitted(known);
    else this.track(this.admit(items));
  }

  private async admit(items: Claimed[]): Promise<void> {
    this.admitted(await this.gate.admit(items, this.lanes.webhooks()));
  }

  private admitted({ admitted, stale, busy }: Admission<Claimed>): void {
    if (!this.running) {
      // Stopped while the gate decided: nothing more starts; handed back with the rest.
      for (const a of admitted) a.started();
      this.lanes.putBack([...admitted.map((a) => a.item), ...busy, ...stale]);
      return;
    }
    const now = this.opts.clock.now();
    const late: Claimed[] = [];
    for (const { item, started } of admitted) {
      if (item.startBy < now) {
        // Sent now, it could make a second hold more than its webhook's rate limit: given back unspent.
        started();
        late.push(item);
      } else this.launch(item, started);
    }
    if (late.length) {
      for (const item of late) this.lanes.finished(item);
      this.track(this.handBack(late.map((c) => c.row)).then(() => this.wake()));
    }
    if (busy.length) {
      this.lanes.putBack(busy);
      this.gateRetry ??= setTimeout(() => {
        this.gateRetry = null;
        this.pump();
      }, GATE_RETRY_MS);
    }
    if (stale.length) {
      // The webhook changed since the claim: the next claim reads it again (parks, cancels or sends anew).
      for (const item of stale) this.lanes.finished(item);
      this.track(this.handBack(stale.map((c) => c.row)).then(() => this.wake()));
    }
  }

  /** Claims given up unsent: due again at once, the attempt not used up. */
  private async handBack(rows: ClaimedDelivery[]): Promise<void> {
    await releaseClaims(
      this.pool,
      rows.map((r) => ({ id: r.id, attempt: r.attempt_count })),
    ).catch((err: Error) =>
      this.log.warn(
        { err: err.message, claims: rows.length },
        'could not hand back claims; they are retried after their lease',
      ),
    );
  }

  private track(task: Promise<void>): void {
    const tracked = task
      .catch((err) => this.log.error({ err }, 'delivery task failed; its lease will expire and it is retried'))
      .finally(() => {
        this.tasks.delete(tracked);
        this.idle.bump();
      });
    this.tasks.add(tracked);
  }

  private launch(item: Claimed, started: () => void): void {
    this.track(
      this.deliver(
        item.row,
        () => {
          const claimAgain = this.lanes.finished(item);
          this.pump();
          if (claimAgain) this.wake();
        },
        started,
      ).finally(started),
    );
  }

  private async deliver(row: ClaimedDelivery, answered: () => void, started: () => void): Promise<void> {
    let released = false;
    const release = () => {
      if (!released) answered();
      released = true;
    };
    try {
      let message: OutgoingMessage;
      try {
        message = this.messages.for(row, this.opts.clock.now());
      } catch (err) {
        if (!(err instanceof SecretKeyError)) throw err;
        started();
        await this.keyMissing(row, err);
        return;
      }
      const tracing = this.opts.tracing;
      const span = tracing ? tracing.attempt(row, row.attempt_count) : null;
      if (row.send_traceparent) {
        message.traceparent = span ? span.traceparent : untracedAttemptParent(row.trace_parent, row.event_id);
      }
      const result = await this.sender.send(message, started);
      // Probes do not move the retry schedule on: it counts this delivery's other attempts.
      const decided = decide(
        result.result,
        row.attempt_count - row.probes,
        this.opts.retry,
        this.opts.clock.now(),
        this.opts.clock.random(),
      );
      const decision = row.probe ? decideProbe(decided) : decided;
      this.streaks.answered(row.webhook_id, decision.outcome === 'SUCCESS');
      if (span) {
        const failed = decision.outcome !== 'SUCCESS';
        span.end(
          {
            'hookline.webhook.id': row.webhook_id,
            'hookline.attempt.outcome': decision.outcome,
            ...(result.responseStatus === null ? {} : { 'http.response.status_code': result.responseStatus }),
            ...(failed
              ? { 'error.type': result.responseStatus ? String(result.responseStatus) : result.result.kind }
              : {}),
          },
          failed,
        );
        if (decision.deliveryStatus === 'SUCCEEDED' || decision.deliveryStatus === 'FAILED') {
          tracing!.delivered(
            row,
            { 'hookline.delivery.status': decision.deliveryStatus, 'hookline.delivery.attempts': row.attempt_count },
            decision.deliveryStatus === 'FAILED',
          );
        }
      }
      // A 410 disables the webhook before its slot is freed and its attempt recorded,
      // so no other claimed delivery of the webhook passes the send gate after it.
      if (decision.disableReason) await this.disable(row.webhook_id, row.account_id, decision.disableReason);
      // The destination's slot is free as soon as it has answered; writing the result is ours.
      release();
      // A rate-limited lane holds what it can start at once and as many again (deliveries.ts): once
      // half of those are gone, the claim takes more.
      if (
        row.rate_limited &&
        !row.flight_limited &&
        this.lanes.waiting(row.webhook_id) <= this.opts.perWebhookConcurrency / 2
      ) {
        this.wake();
      }
      this.unrecorded++;
      try {
        await this.recorder.record({
          deliveryId: row.id,
          webhookId: row.webhook_id,
          accountId: row.account_id,
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
          traceId: span ? span.traceId : message.traceparent ? traceIdOf(message.traceparent) : null,
          remoteAddress: result.remoteAddress,
          responseHeaders: result.responseHeaders,
          timings: result.timings,
          probe: row.probe,
        });
      } finally {
        this.unrecorded--;
      }
      // An in-flight slot is free once the attempt is written: the claim can take the next one.
      if (row.flight_limited) this.wake();
    } finally {
      release();
    }
  }

  /**
   * A claim sized before a webhook was found keyless may still bring its rows:
   * handed straight back, not counted again.
   */
  private withoutKeyless(rows: ClaimedDelivery[]): ClaimedDelivery[] {
    if (this.keyless.size === 0) return rows;
    const keyless = (r: ClaimedDelivery) => r.send && this.keyless.has(r.webhook_id);
    if (rows.some(keyless)) this.track(this.handBack(rows.filter(keyless)));
    return rows.filter((r) => !keyless(r));
  }

  /**
   * This worker lacks the key a webhook's secrets are sealed with (a rolling key
   * change reached it last): the claim is handed back without using up an
   * attempt, and for KEYLESS_RETRY_MS its claims skip the webhook, leaving it
   * to workers that have the key. /readyz and hookline_secret_key_missing_total say so.
   */
  private async keyMissing(row: ClaimedDelivery, err: SecretKeyError): Promise<void> {
    const keyId = err.keyId ?? 'unknown';
    if (!this.keyless.has(row.webhook_id)) {
      this.log.error(
        { webhookId: row.webhook_id, deliveryId: row.id, keyId, err: err.message },
        "this instance cannot open the webhook's secrets (HOOKLINE_SECRET_KEYS lacks their key): its deliveries are left to instances that have it",
      );
    }
    this.keyless.set(row.webhook_id, this.opts.clock.now() + KEYLESS_RETRY_MS);
    this.missingKeys.add(keyId);
    this.telemetry.emit('secretKeyMissing', { deliveries: 1 });
    await this.handBack([row]);
  }

  /** `accounts`: each webhook's account, from the batch whose attempts changed its health. */
  private async checkHealth(rows: WebhookHealth[], accounts: Map<string, string>): Promise<void> {
    for (const h of rows) {
      if (h.status !== 'ACTIVE') continue;
      if (shouldDisableForFailures(h.failing_since, h.consecutive_failures, this.opts.clock.now(), this.opts.health)) {
        const since = h.failing_since!.toISOString();
        await this.disable(
          h.id,
          accounts.get(h.id)!,
          `every attempt failed since ${since} (${h.consecutive_failures} failed attempts)`,
        );
      }
    }
  }

  private async disable(webhookId: string, accountId: string, reason: string): Promise<void> {
    try {
      if (await disableWebhook(this.pool, webhookId, reason)) {
        this.log.warn({ webhookId, reason }, 'webhook disabled');
        this.feed.webhookStatus({ webhookId, accountId, status: 'DISABLED', reason });
        this.flushNotices();
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message, webhookId }, 'disabling webhook failed');
    }
  }

  /** Stop claiming, hand back claims not yet started, let attempts in flight finish (bounded), write their results. */
  stop(timeoutMs: number): Promise<void> {
    if (this.current === 'new') this.enter('stopped');
    this.stopping ??= this.current === 'stopped' ? Promise.resolve() : this.drain(timeoutMs);
    return this.stopping;
  }

  private async drain(timeoutMs: number): Promise<void> {
    this.enter('draining');
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.gateRetry) clearTimeout(this.gateRetry);
    if (this.deferredWake) clearTimeout(this.deferredWake.timer);
    this.unlisten?.();
    // A claim statement in flight returns rows after the signal: they are handed back with the rest.
    await this.currentPass;
    await this.handBack(this.lanes.takeWaiting().map((c) => c.row));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const settled = Promise.allSettled([...this.tasks]).then(async () => {
      // What the send gate put back while it was deciding.
      await this.handBack(this.lanes.takeWaiting().map((c) => c.row));
      await Promise.all([this.recorder.close(), this.gate.close()]);
    });
    const result = await Promise.race([settled, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.log.warn(
        { inFlight: this.lanes.inFlight },
        'shutdown timeout: attempts still in flight are retried after their lease',
      );
    }
    this.enter('stopped');
  }
}

function toNotice(rec: AttemptRecord, id: string): AttemptNotice {
  const notice: AttemptNotice = {
    id,
    deliveryId: rec.deliveryId,
    webhookId: rec.webhookId,
    accountId: rec.accountId,
    eventId: rec.eventId,
    attemptNumber: rec.attemptNumber,
    outcome: rec.outcome,
    responseStatus: rec.responseStatus,
    errorMessage: rec.errorMessage,
    durationMs: rec.durationMs,
    startedAt: rec.startedAt.toISOString(),
    deliveryStatus: rec.nextStatus,
    nextAttemptAt: rec.nextAttemptAt?.toISOString() ?? null,
  };
  if (rec.traceId) notice.traceId = rec.traceId;
  return notice;
}
