import { LANE_DEPTH } from '../domain/delivery-policy.js';

// The worker's bookkeeping, pure: which claimed deliveries wait in which
// webhook's lane, how many are in flight, how much room is left, and when to
// claim again. No I/O and no timers, so every rule has a unit test
// (test/delivery/lanes.test.ts); src/delivery/README.md names the states.

export interface LaneItem {
  id: string;
  webhookId: string;
  /** The webhook's account: accounts share the worker in turn. */
  accountId: string;
  /** Bytes held in memory while it waits (the envelope). */
  bytes: number;
}

export interface LaneLimits {
  /** Requests in flight at once, all webhooks together. */
  concurrency: number;
  /**
   * Requests in flight at once for one account: below concurrency, so that a
   * slot is always free for another account's delivery the moment it is
   * claimed, however slow the destinations keeping one account busy.
   */
  perAccountConcurrency: number;
  /** Requests in flight at once to one webhook. */
  perWebhook: number;
  /** Claimed deliveries held at most (in flight and waiting): room for the next claim. */
  maxHeld: number;
  /**
   * Claimed deliveries one account may hold at most. Below maxHeld, so that
   * however large one account's backlog, the worker keeps room to claim
   * another account's deliveries the moment they are due.
   */
  perAccount: number;
  /** Envelope bytes held before claiming pauses. */
  maxHeldBytes: number;
  /** Claims at most this many per statement. */
  claimBatch: number;
}

/** What the next claim statement needs to know about the lanes. */
export interface ClaimSizing {
  limit: number;
  /** Per-webhook cap on in-flight + waiting, counting what is already held. */
  perWebhookCap: number;
  busyWebhooks: string[];
  busyCounts: number[];
  /** Lanes already full: skipped while scanning, so they cannot hide other webhooks' deliveries. */
  saturated: string[];
  perAccountCap: number;
  /** Accounts with claimed deliveries held, and how many each. */
  busyAccounts: string[];
  accountCounts: number[];
}

interface Lane<T> {
  accountId: string;
  active: number;
  queue: T[];
  /** The last claim filled this lane to the brim, so more are probably due. */
  maybeMore: boolean;
}

/** An account's share of the worker. */
interface AccountShare<T> {
  /** Its webhooks' lanes, in the order they start deliveries. */
  lanes: Map<string, Lane<T>>;
  held: number;
  active: number;
  /** It reached perAccount: the worker claims for it again once half of that is back. */
  full: boolean;
  /** When it last started a delivery (a turn number; 0: never). */
  served: number;
}

export class Lanes<T extends LaneItem> {
  private readonly lanes = new Map<string, Lane<T>>();
  private readonly accounts = new Map<string, AccountShare<T>>();
  private turns = 0;
  private active = 0;
  private held = 0;
  private heldBytes = 0;
  /** The last claim pass stopped for want of room, not for want of due deliveries. */
  private full = false;

  constructor(private readonly limits: LaneLimits) {}

  get depth(): number {
    return this.limits.perWebhook * LANE_DEPTH;
  }

  get inFlight(): number {
    return this.active;
  }

  /** Webhooks with claimed deliveries, waiting or in flight. */
  webhooks(): IterableIterator<string> {
    return this.lanes.keys();
  }

  get heldCount(): number {
    return this.held;
  }

  /**
   * The next claim's size, or null when there is no room: too many held, too
   * many bytes held, or `blocked` (attempts waiting to be written).
   */
  sizing(blocked = false): ClaimSizing | null {
    const room = this.limits.maxHeld - this.held;
    this.full = blocked || room <= 0 || this.heldBytes >= this.limits.maxHeldBytes;
    if (this.full) return null;
    const busy = [...this.lanes].map(([id, l]) => [id, l.active + l.queue.length] as const);
    return {
      limit: Math.min(room, this.limits.claimBatch),
      perWebhookCap: this.depth,
      busyWebhooks: busy.map(([id]) => id),
      busyCounts: busy.map(([, n]) => n),
      saturated: busy.filter(([, n]) => n >= this.depth).map(([id]) => id),
      perAccountCap: this.limits.perAccount,
      busyAccounts: [...this.accounts.keys()],
      accountCounts: [...this.accounts.values()].map((a) => a.held),
    };
  }

  /**
   * Takes a claim's rows into their lanes. Returns true when another claim
   * should follow at once: the claim was full, or a lane was filled to the
   * brim (the next claim skips it and reaches the webhooks queued behind it).
   * Found by the bad-receivers drill: 2,000 due deliveries of a never-answering
   * destination hid a healthy webhook's from every claim.
   */
  accept(sizing: ClaimSizing, rows: readonly T[]): boolean {
    const got = new Map<string, number>();
    for (const row of rows) got.set(row.webhookId, (got.get(row.webhookId) ?? 0) + 1);
    this.take(rows);
    const before = new Map(sizing.busyWebhooks.map((id, i) => [id, sizing.busyCounts[i]!]));
    let brim = false;
    for (const [id, lane] of this.lanes) {
      const room = this.depth - (before.get(id) ?? 0);
      if (room <= 0) continue;
      lane.maybeMore = (got.get(id) ?? 0) >= room;
      if (lane.maybeMore) brim = true;
    }
    return rows.length === sizing.limit || brim;
  }

  /**
   * Takes rows claimed by someone else (the publishing statement's fast path)
   * into their lanes. Unlike accept() it says nothing of what else is due: a
   * publish knows only of its own deliveries, so the lanes' hints stay.
   */
  take(rows: readonly T[]): void {
    for (const row of rows) {
      const lane = this.laneOf(row);
      lane.queue.push(row);
      const account = this.accounts.get(row.accountId)!;
      account.held++;
      if (account.held >= this.limits.perAccount) account.full = true;
      this.held++;
      this.heldBytes += row.bytes;
    }
  }

  private laneOf(item: T): Lane<T> {
    let lane = this.lanes.get(item.webhookId);
    if (lane) return lane;
    lane = { accountId: item.accountId, active: 0, queue: [], maybeMore: false };
    this.lanes.set(item.webhookId, lane);
    let account = this.accounts.get(item.accountId);
    if (!account)
      this.accounts.set(item.accountId, (account = { lanes: new Map(), held: 0, active: 0, full: false, served: 0 }));
    account.lanes.set(item.webhookId, lane);
    return lane;
  }

  private dropIfIdle(webhookId: string, lane: Lane<T>): void {
    if (lane.active !== 0 || lane.queue.length !== 0) return;
    this.lanes.delete(webhookId);
    const account = this.accounts.get(lane.accountId);
    if (!account) return;
    account.lanes.delete(webhookId);
    if (account.lanes.size === 0 && account.held === 0) this.accounts.delete(lane.accountId);
  }

  /**
   * Deliveries to start now, while their lane and the worker have free slots;
   * each counts as in flight. Accounts take turns, one delivery each, the one
   * served longest ago first: a slot that frees up goes to the account that
   * waited longest, however many of its webhooks another account keeps busy.
   * Within an account, its lanes in order, each up to perWebhook. At most `max`.
   */
  startable(max = Infinity): T[] {
    const out: T[] = [];
    let progress = true;
    while (progress && this.active < this.limits.concurrency && out.length < max) {
      progress = false;
      const turn = [...this.accounts.values()].sort((x, y) => x.served - y.served);
      for (const account of turn) {
        if (this.active >= this.limits.concurrency || out.length >= max) break;
        if (account.active >= this.limits.perAccountConcurrency) continue;
        const lane = this.firstStartable(account);
        if (!lane) continue;
        out.push(lane.queue.shift()!);
        lane.active++;
        account.active++;
        this.active++;
        account.served = ++this.turns;
        progress = true;
      }
    }
    return out;
  }

  private firstStartable(account: AccountShare<T>): Lane<T> | undefined {
    for (const [id, lane] of account.lanes) {
      if (lane.queue.length && lane.active < this.limits.perWebhook) return lane;
      this.dropIfIdle(id, lane);
    }
    return undefined;
  }

  /**
   * A started delivery's destination answered (or the attempt ended): its slot
   * is free. Returns true when the worker should claim again: half of the
   * room is back after a pass that ran out of it, or the lane's waiting room
   * fell to half and more are known to be due. A claim per response cost as
   * much as the response (and made a 1,000-webhook fan-out slower, not faster).
   */
  finished(item: T): boolean {
    const lane = this.lanes.get(item.webhookId);
    if (lane) lane.active--;
    this.active--;
    this.held--;
    this.heldBytes -= item.bytes;
    const account = this.accounts.get(item.accountId);
    if (account) {
      account.held--;
      account.active--;
    }
    const roomBack = this.full && this.held <= this.limits.maxHeld / 2;
    const accountBack = account !== undefined && account.full && account.held <= this.limits.perAccount / 2;
    if (accountBack) account.full = false;
    const refill =
      lane !== undefined && lane.maybeMore && lane.queue.length <= (this.depth - this.limits.perWebhook) / 2;
    if (lane) this.dropIfIdle(item.webhookId, lane);
    return roomBack || accountBack || refill;
  }

  /**
   * Deliveries startable() gave out that may not start yet (the send gate was
   * busy): back at the head of their lanes, waiting again, in their order.
   */
  putBack(items: readonly T[]): void {
    for (const item of [...items].reverse()) {
      const known = this.lanes.has(item.webhookId);
      const lane = this.laneOf(item);
      if (!known) lane.active = 1;
      lane.active--;
      const account = this.accounts.get(item.accountId)!;
      account.active = Math.max(0, account.active - 1);
      this.active--;
      lane.queue.unshift(item);
    }
  }

  /** Shutdown: every claimed delivery not started yet, taken out of the lanes to be handed back. */
  takeWaiting(): T[] {
    const out: T[] = [];
    for (const lane of this.lanes.values()) out.push(...lane.queue.splice(0));
    for (const item of out) {
      this.held--;
      this.heldBytes -= item.bytes;
      const account = this.accounts.get(item.accountId);
      if (account) account.held--;
    }
    for (const [id, lane] of [...this.lanes]) this.dropIfIdle(id, lane);
    return out;
  }
}
