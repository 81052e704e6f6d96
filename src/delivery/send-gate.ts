import type pg from 'pg';
import type { Logger } from '../logger.js';
import { guardWebhooks, unguardWebhooks } from '../storage/sql/send-guard.js';

// The last check before a request starts (delivery contract, revision 3:
// stopping means stopped). A claim copied the webhook's state (destination,
// secrets, status) and its version; while it waited in its lane, a pause, a
// delete, a 410's disable or a secret change may have been committed. The gate
// compares each claimed delivery's version with the webhook's current one
// under the webhook's shared send lock, which every such change must take
// exclusively (migrations/1765200000000-StoppingMeansStopped.ts): a change
// waits until what the gate admitted under the old version has been handed to
// the HTTP client, and whatever the gate admits after it reads the new version.
//
// The locks are held for a window of WINDOW_MS on one connection, not per
// request: the first delivery to a webhook in a window costs a guard
// statement, every other one in that window a map lookup, and each window one
// unlock statement, and a guard takes every webhook with claims waiting, not
// only the one asked about. A change waits at most one window. Measured with
// bench/probe-delivery.ts (a 5,000-event backlog, two runs each, against
// 9381750 without the gate): to 10 webhooks, 0.13-0.14 transactions per
// delivery against 0.09 (0.32-0.36 when each webhook had its own guard), at
// 1,606-1,947/s against 1,999-2,028/s; to one webhook, 0.28 against 0.22-0.27
// at 1,268-1,318/s against 1,062-1,217/s (runs here differ by ±15 %).

export const WINDOW_MS = 50;
// Webhooks guarded in one statement at most (the ones needed now come first).
const MAX_GUARDED = 500;
/** A request not handed to the HTTP client by then (a bug) no longer holds its webhook's changes back. */
const START_WAIT_MS = 1_000;

export interface Gated {
  webhookId: string;
  /** webhooks.version as the claim read it. */
  version: string;
}

export interface Admission<T> {
  /** Send now; call started() once the request is handed to the HTTP client (or will not be). */
  admitted: { item: T; started: () => void }[];
  /** The webhook changed (or is gone) since the claim: hand the claim back, the next claim decides. */
  stale: T[];
  /** A change of the webhook is being committed, or the database could not be asked: try again shortly. */
  busy: T[];
}

class Window {
  readonly versions = new Map<string, string | null>();
  /** Guard statements run one after another on the window's connection. */
  guarding: Promise<void> = Promise.resolve();
  unstarted = 0;
  private allStarted: (() => void) | null = null;
  open = true;
  /** A guard statement failed: which locks it took is unknown, so the connection is closed, not reused. */
  broken = false;

  constructor(readonly client: pg.PoolClient) {}

  ticket(): () => void {
    this.unstarted++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.unstarted === 0) this.allStarted?.();
    };
  }

  started(): Promise<void> {
    if (this.unstarted === 0) return Promise.resolve();
    return new Promise((r) => (this.allStarted = r));
  }
}

export class SendGate {
  private current: Window | null = null;
  private readonly closing = new Set<Promise<void>>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
    private readonly windowMs = WINDOW_MS,
  ) {}

  /**
   * `likely`: other webhooks about to be sent to (those with claims waiting):
   * guarded in the same statement when one runs anyway, so a window usually
   * costs one guard statement, not one per webhook.
   */
  async admit<T extends Gated>(items: T[], likely: Iterable<string> = []): Promise<Admission<T>> {
    const out: Admission<T> = { admitted: [], stale: [], busy: [] };
    let w: Window;
    try {
      w = this.current?.open ? this.current : await this.openWindow();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'send guard unavailable; deliveries wait');
      out.busy.push(...items);
      return out;
    }
    // Taken before anything is awaited: the window keeps its locks until this admission is decided.
    const deciding = w.ticket();
    try {
      const needed = items.map((i) => i.webhookId).filter((id) => !w.versions.has(id));
      if (needed.length) {
        const unknown = [...new Set([...needed, ...likely])].filter((id) => !w.versions.has(id)).slice(0, MAX_GUARDED);
        const guarded = w.guarding.then(async () => {
          // Asked again once the guard before it is done: a lock taken twice by one session would be
          // given back once, and held until the connection closes.
          const todo = unknown.filter((id) => !w.versions.has(id));
          if (todo.length === 0) return;
          const locked = await guardWebhooks(w.client, todo);
          for (const [id, version] of locked) w.versions.set(id, version);
        });
        w.guarding = guarded.catch(() => undefined);
        try {
          await guarded;
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, 'send guard failed; deliveries wait');
          w.broken = true;
          this.closeWindow(w);
          out.busy.push(...items);
          return out;
        }
      }
      for (const item of items) {
        if (!w.versions.has(item.webhookId)) out.busy.push(item);
        else if (w.versions.get(item.webhookId) !== item.version) out.stale.push(item);
        else out.admitted.push({ item, started: w.ticket() });
      }
      return out;
    } finally {
      deciding();
    }
  }

  /**
   * The decision now, without waiting, when the open window has every item's
   * webhook guarded already (the common case under load); null otherwise.
   */
  admitKnown<T extends Gated>(items: T[]): Admission<T> | null {
    const w = this.current;
    if (!w?.open || w.broken || !items.every((i) => w.versions.has(i.webhookId))) return null;
    const out: Admission<T> = { admitted: [], stale: [], busy: [] };
    for (const item of items) {
      if (w.versions.get(item.webhookId) !== item.version) out.stale.push(item);
      else out.admitted.push({ item, started: w.ticket() });
    }
    return out;
  }

  /** Resolves once every window has given its locks back. */
  async close(): Promise<void> {
    if (this.current) this.closeWindow(this.current);
    while (this.closing.size) await Promise.all([...this.closing]);
  }

  private async openWindow(): Promise<Window> {
    const client = await this.pool.connect();
    if (this.current?.open) {
      // Another admission opened one meanwhile: use it.
      client.release();
      return this.current;
    }
    const w = new Window(client);
    this.current = w;
    setTimeout(() => this.closeWindow(w), this.windowMs).unref();
    return w;
  }

  private closeWindow(w: Window): void {
    if (!w.open) return;
    w.open = false;
    if (this.current === w) this.current = null;
    const closed = this.release(w).finally(() => this.closing.delete(closed));
    this.closing.add(closed);
  }

  private async release(w: Window): Promise<void> {
    await w.guarding;
    let timer: NodeJS.Timeout | undefined;
    const late = await Promise.race([
      w.started().then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), START_WAIT_MS))),
    ]);
    clearTimeout(timer);
    if (late) this.log.error({ waiting: w.unstarted }, 'admitted requests not started; giving their send locks back');
    if (w.broken) {
      w.client.release(new Error('send guard failed'));
      return;
    }
    try {
      if (w.versions.size) await unguardWebhooks(w.client, [...w.versions.keys()]);
      w.client.release();
    } catch (err) {
      // The session's locks end with its connection.
      w.client.release(err as Error);
    }
  }
}
