import { Ajv, type ValidateFunction } from 'ajv';
import type pg from 'pg';
import {
  CATALOG,
  NOTICE_RESOURCE,
  eventType,
  resourceDefinition,
  samplePayload,
  type EventAction,
  type ResourceType,
} from '../domain/catalog.js';
import { badInput, conflict, HooklineError, notFound } from '../domain/errors.js';
import { DEFAULT_ACCOUNT_KEY, validAccountKey, type Scope } from '../domain/accounts.js';
import type { AccountDirectory } from './accounts.js';
import { MAX_PAYLOAD_DEPTH, jsonDepth, validPair, isUuid } from '../domain/validation.js';
import { newUuidV7 } from '../domain/random.js';
import type { Clock } from '../domain/clock.js';
import type { Telemetry } from '../telemetry/bus.js';
import type { Actor } from '../domain/audit.js';
import { insertAudit } from '../storage/sql/audit.js';
import { inTransaction } from '../storage/sql/db.js';
import { MAX_FILTER_COST, REACH_FLOOR, filterCost } from '../domain/filter.js';
import {
  eventsByIdempotencyKeys,
  filterRefusal,
  insertTestEvent,
  reachText,
  wasCancelled,
  type InsertedEvent,
  type NewEvent,
  type StoredEvent,
} from '../storage/sql/events.js';
import { PublishBatcher, insertAndHand, type LocalWorker } from './publish-batcher.js';
import type { Event } from '../storage/entities/index.js';
import { eventErasedFor, redeliver } from '../storage/sql/deliveries.js';
import type { Attributes } from '@opentelemetry/api';
import { retryFailedPaced } from '../storage/sql/pacing.js';
import { untracedParent, type Tracing } from '../telemetry/tracing.js';

export interface PublishInput {
  resource: ResourceType;
  action: EventAction;
  payload: Record<string, unknown>;
  idempotencyKey?: string | null;
  occurredAt?: Date | null;
  /** The account's key; omitted: the caller's account, else the default. */
  account?: string | null;
}

export const MAX_IDEMPOTENCY_KEY_LENGTH = 255;
/** publishEvents: events per request at most (contract revision 2). */
export const MAX_BATCH_EVENTS = 1000;
// JSON text of a NUL: \u0000 preceded by an even number of backslashes (an odd count would be a literal "\\u0000").
const ESCAPED_NUL = /(?<!\\)(?:\\\\)*\\u0000/;

// Compiled once at start: ajv compiles each schema to a function.
function compileSchemas(): Map<ResourceType, ValidateFunction> {
  const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
  return new Map(CATALOG.map((r) => [r.type, ajv.compile(r.payloadSchema)]));
}

export class EventService {
  private readonly validators = compileSchemas();
  private readonly batcher: PublishBatcher;

  constructor(
    private readonly pool: pg.Pool,
    private readonly maxPayloadBytes: number,
    private readonly clock: Clock,
    private readonly telemetry: Telemetry,
    /** retryFailed releases at most this many deliveries a second (HOOKLINE_REPLAY_RATE). */
    private readonly releaseRatePerSecond: number,
    /** The worker of this process, which takes what a publish can hand it at once (the fast path); null: none. */
    private readonly worker: LocalWorker | null,
    private readonly accounts: AccountDirectory,
    /** The process's tracing (telemetry/tracing.ts); null when it is off. */
    private readonly tracing: Tracing | null = null,
  ) {
    this.batcher = new PublishBatcher(pool, worker);
  }

  /**
   * Returns the stored event: the first one for a repeated idempotency key.
   * `traceparent`: the request's (parseTraceparent), whose trace the event continues.
   */
  async publish(scope: Scope, input: PublishInput, traceparent: string | null = null): Promise<Event> {
    const span = this.tracing?.publish('publishEvent', traceparent) ?? null;
    try {
      const started = performance.now();
      const [accountId] = await this.accountsOf(scope, [input], () => 'input.account');
      const event = this.checked(input, accountId!, 'input', span?.traceparent ?? untracedParent(traceparent));
      const inserted = await this.batcher.submit(event).catch((e: unknown) => {
        throw refused(e, [event], () => 'input', 'input');
      });
      const [stored] = await this.answers([input], [event], inserted ? [inserted] : []);
      this.telemetry.emit('publishTime', { seconds: (performance.now() - started) / 1000 });
      span?.end({ 'hookline.event.id': stored!.id, 'hookline.event.type': event.type, ...deliveries(inserted) });
      return stored!;
    } catch (e) {
      span?.end({}, e);
      throw e;
    }
  }

  /**
   * Up to MAX_BATCH_EVENTS events in one statement, so in one transaction: all
   * are checked first (the first invalid one refuses the batch, naming
   * inputs[i], and nothing is stored); idempotency keys apply per event (a key
   * already taken, or repeated in the batch, answers with the first event).
   * Results in input order. Not through the batcher: it is a batch already.
   */
  async publishMany(scope: Scope, inputs: PublishInput[], traceparent: string | null = null): Promise<Event[]> {
    const span = this.tracing?.publish('publishEvents', traceparent) ?? null;
    try {
      const started = performance.now();
      if (inputs.length === 0 || inputs.length > MAX_BATCH_EVENTS) {
        throw badInput('inputs', `expected 1 to ${MAX_BATCH_EVENTS} events, got ${inputs.length}`);
      }
      const accountIds = await this.accountsOf(scope, inputs, (i) => `inputs[${i}].account`);
      // One trace context for the batch: every event of it is a child of the one publishEvents span.
      const parent = span?.traceparent ?? untracedParent(traceparent);
      const events = inputs.map((input, i) => this.checked(input, accountIds[i]!, `inputs[${i}]`, parent));
      const inserted = await insertAndHand(this.pool, events, this.worker).catch((e: unknown) => {
        throw refused(e, events, (i) => `inputs[${i}]`, 'inputs');
      });
      const stored = await this.answers(inputs, events, inserted);
      this.telemetry.emit('publishTime', { seconds: (performance.now() - started) / 1000 });
      span?.end({ 'hookline.events': inputs.length, ...deliveries(...inserted) });
      return stored;
    } catch (e) {
      span?.end({}, e);
      throw e;
    }
  }

  /**
   * The account of each input, by its key: a scoped caller's own (naming
   * another is FORBIDDEN, and nothing is created or stored), else the named
   * one, created when no account has the key yet, else the default.
   */
  private async accountsOf(
    scope: Scope,
    inputs: readonly PublishInput[],
    at: (i: number) => string,
  ): Promise<string[]> {
    const keys = inputs.map((input, i) => (input.account == null ? null : validAccountKey(at(i), input.account)));
    if (scope.accountId !== null) {
      const own = scope.accountId;
      const named = new Map<string, number>();
      keys.forEach((key, i) => key !== null && !named.has(key) && named.set(key, i));
      // One lookup per key named, not per event: a batch names one account a thousand times.
      for (const [key, i] of named) {
        if ((await this.accounts.idOfExisting(key)) !== own) {
          throw new HooklineError(
            'FORBIDDEN',
            `${at(i)}: a key scoped to an account publishes in its own account only; leave account out`,
          );
        }
      }
      return keys.map(() => own);
    }
    const ids = await this.accounts.idsOf(keys.map((k) => k ?? DEFAULT_ACCOUNT_KEY));
    return keys.map((k) => ids.get(k ?? DEFAULT_ACCOUNT_KEY)!);
  }

  /** Validates one event (errors name `at`) and makes its row, id included, in the trace `traceParent`. */
  private checked(input: PublishInput, accountId: string, at: string, traceParent: string): NewEvent {
    validPair(at, { resource: input.resource, action: input.action });
    if (input.resource === NOTICE_RESOURCE) {
      throw badInput(
        `${at}.resource`,
        'WEBHOOKS events are the notices Hookline publishes itself (webhook.failing, recovered, disabled); publish one of the platform resources',
      );
    }
    if (jsonDepth(input.payload, MAX_PAYLOAD_DEPTH) > MAX_PAYLOAD_DEPTH) {
      throw badInput(`${at}.payload`, `is nested more than ${MAX_PAYLOAD_DEPTH} levels deep; flatten it`);
    }
    const json = JSON.stringify(input.payload);
    const size = Buffer.byteLength(json);
    if (size > this.maxPayloadBytes) {
      throw badInput(`${at}.payload`, `is ${size} bytes; the limit is ${this.maxPayloadBytes} bytes`);
    }
    // jsonb cannot store \u0000; refuse it here rather than fail in the database.
    if (ESCAPED_NUL.test(json)) throw badInput(`${at}.payload`, 'must not contain the NUL character (\\u0000)');
    const validate = this.validators.get(input.resource)!;
    if (!validate(input.payload)) {
      const e = validate.errors![0]!;
      const where = e.instancePath ? `${at}.payload${e.instancePath.replace(/\//g, '.')}` : `${at}.payload`;
      throw badInput(
        where,
        `${e.message ?? 'is invalid'} (${eventType(input.resource, input.action)} carries a ${resourceDefinition(input.resource).payloadFormat})`,
      );
    }
    const key = input.idempotencyKey ?? null;
    if (key !== null && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || key.includes('\u0000'))) {
      throw badInput(`${at}.idempotencyKey`, `must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters, without NUL`);
    }
    if (input.occurredAt && Number.isNaN(input.occurredAt.getTime())) {
      throw badInput(`${at}.occurredAt`, 'must be an ISO 8601 date-time');
    }
    return {
      // Time-ordered: the events' primary key grows at its right edge (migrations/1764800000000-HotQueue.ts).
      id: newUuidV7(),
      accountId,
      resource: input.resource,
      action: input.action,
      type: eventType(input.resource, input.action),
      payload: json,
      occurredAt: input.occurredAt ?? null,
      idempotencyKey: key,
      // 1.9 µs for a 200-byte payload, 0.3-0.8 ms for 256 KiB ones (JSON.stringify above: 0.6 µs, 0.7-2.6 ms).
      filterReach: reachText(input.payload),
      traceParent,
    };
  }

  /**
   * The events to answer with, in input order: built from the input for those
   * inserted (no read back: one round trip per publish), read by key for those
   * whose idempotency key an earlier publish (or an earlier event of the batch) holds.
   */
  private async answers(inputs: PublishInput[], events: NewEvent[], inserted: InsertedEvent[]): Promise<Event[]> {
    const byId = new Map(inserted.map((r) => [r.id, r]));
    const counts = new Map<string, number>();
    for (const e of events)
      if (byId.has(e.id)) counts.set(`${e.resource}/${e.action}`, (counts.get(`${e.resource}/${e.action}`) ?? 0) + 1);
    for (const [pair, n] of counts) {
      const [resource, action] = pair.split('/') as [string, string];
      this.telemetry.emit('published', { resource, action, events: n });
    }
    const left = events.filter((e) => !byId.has(e.id));
    const taken = left.flatMap((e) =>
      e.idempotencyKey === null ? [] : [{ accountId: e.accountId, key: e.idempotencyKey }],
    );
    const existing = taken.length ? await eventsByIdempotencyKeys(this.pool, taken) : [];
    const byKey = new Map(existing.map((e) => [`${e.account_id}:${e.idempotency_key!}`, e]));
    return events.map((e, i) => {
      const row = byId.get(e.id);
      if (row) {
        return eventFromRow({
          id: row.id,
          account_id: e.accountId,
          resource: e.resource,
          action: e.action,
          type: e.type,
          payload: inputs[i]!.payload,
          occurred_at: row.occurred_at,
          created_at: row.created_at,
          idempotency_key: e.idempotencyKey,
          is_test: false,
          erased_at: null,
          trace_parent: e.traceParent ?? null,
        });
      }
      // ON CONFLICT DO NOTHING returned nothing: the key exists in the account, committed by an earlier publish.
      const first = e.idempotencyKey === null ? undefined : byKey.get(`${e.accountId}:${e.idempotencyKey}`);
      if (first) return eventFromRow(first);
      // Not inserted and no event holds its key: its account was deleted since its id was looked up.
      const key = inputs[i]!.account ?? DEFAULT_ACCOUNT_KEY;
      this.accounts.forgetKey(key);
      throw conflict(
        `${inputs.length > 1 ? `inputs[${i}].account` : 'input.account'}: the account ${key} was deleted while this was published, and nothing was stored in it; publish again to create the account anew`,
      );
    });
  }

  async sendTest(
    accountId: string,
    webhookId: string,
    resource: ResourceType | null,
    action: EventAction | null,
    actor: Actor,
  ): Promise<string> {
    const r = resource ?? 'USERS';
    const a = action ?? 'CREATE';
    validPair('action', { resource: r, action: a });
    const type = eventType(r, a);
    return inTransaction(this.pool, async (db) => {
      const { deliveryId } = await insertTestEvent(
        db,
        {
          resource: r,
          action: a,
          type,
          payload: JSON.stringify(samplePayload(r, a, new Date(this.clock.now()))),
          // A trace of its own, as a publish without a traceparent gets.
          traceParent: untracedParent(null),
        },
        webhookId,
      );
      await insertAudit(db, {
        actor,
        action: 'webhook.test_sent',
        targetType: 'Webhook',
        targetId: webhookId,
        changes: { eventType: type, deliveryId },
        accountId,
      });
      return deliveryId;
    });
  }

  /** accountId: the delivery's webhook's, which the caller has read in its scope. */
  async redeliver(scope: Scope, accountId: string, deliveryId: string, actor: Actor): Promise<void> {
    if (!isUuid(deliveryId)) throw notFound('delivery', deliveryId);
    await inTransaction(this.pool, async (db) => {
      // Contract revision 3: nothing about an erased object is sent afterwards, not even its {id}.
      if (await eventErasedFor(db, deliveryId)) {
        throw badInput('deliveryId', 'its event was erased (eraseObject): it has nothing left to send');
      }
      if (!(await redeliver(db, deliveryId, scope))) throw notFound('delivery', deliveryId);
      await insertAudit(db, {
        actor,
        action: 'delivery.redelivered',
        targetType: 'Delivery',
        targetId: deliveryId,
        changes: {},
        accountId,
      });
    });
  }

  /** Of a webhook the caller has read in its scope, of account `accountId`. */
  async retryFailed(accountId: string, webhookId: string, since: Date, actor: Actor): Promise<number> {
    if (since.getTime() > this.clock.now()) throw badInput('since', 'must not be in the future');
    return inTransaction(this.pool, async (db) => {
      const count = await retryFailedPaced(db, webhookId, since, this.releaseRatePerSecond);
      await insertAudit(db, {
        actor,
        action: 'deliveries.retried',
        targetType: 'Webhook',
        targetId: webhookId,
        changes: { since: since.toISOString(), count },
        accountId,
      });
      return count;
    });
  }
}

/**
 * A publish the database refused, as the caller's error (nothing was stored):
 * a subscribed filter that would cost more than MAX_FILTER_COST against an
 * event's payload, named with the payload field that makes it costly; or the
 * statement timeout. `at(i)` names the i-th event, `whole` the request.
 */
function refused(e: unknown, events: readonly NewEvent[], at: (i: number) => string, whole: string): unknown {
  const refusal = filterRefusal(e);
  if (refusal) {
    const i = events.findIndex((ev) => ev.id === refusal.eventId);
    const event = events[i];
    const reach = event?.filterReach ? (JSON.parse(event.filterReach) as Record<string, number>) : null;
    const { cost, costliest } = filterCost(refusal.terms, reach);
    const where = i < 0 ? whole : `${at(i)}.payload`;
    if (!costliest) return badInput(where, `a subscribed filter would cost more than ${MAX_FILTER_COST} steps`);
    const reached = Math.max(...[costliest.path, ...costliest.prefixes].map((p) => reach?.[p] ?? REACH_FLOOR));
    return badInput(
      `${where}.${costliest.field}`,
      `reaches ${reached} values, and the filter of webhook ${refusal.webhookId} on ${event?.type ?? 'this event type'} ` +
        `compares ${costliest.field} ${costliest.comparisons} ways: ${cost} steps against this payload, more than the ` +
        `${MAX_FILTER_COST} one filter may take; nothing was stored. Send fewer values there, or ask the webhook's owner to narrow its filter`,
    );
  }
  if (wasCancelled(e)) {
    return badInput(
      whole,
      'publishing took longer than the database allows one statement (statement_timeout) and was cancelled; nothing was stored. Publish fewer events at once, or retry later if the server is busy',
    );
  }
  return e;
}

function eventFromRow(r: StoredEvent): Event {
  return {
    id: r.id,
    accountId: r.account_id,
    resource: r.resource as ResourceType,
    action: r.action as EventAction,
    type: r.type,
    payload: r.payload,
    occurredAt: r.occurred_at,
    createdAt: r.created_at,
    idempotencyKey: r.idempotency_key,
    isTest: r.is_test,
    erasedAt: r.erased_at,
    traceParent: r.trace_parent,
  };
}

/** The publish span's count of deliveries made. */
const deliveries = (...inserted: (InsertedEvent | null)[]): Attributes => ({
  'hookline.deliveries': inserted.reduce((n, r) => n + (r?.deliveries ?? 0), 0),
});
