import pg from 'pg';
import type { Logger } from '../logger.js';

// One LISTEN connection per process, shared by the worker (due deliveries) and
// the live feed. If it drops it reconnects with capped exponential backoff and
// tells every handler, since notifications sent meanwhile are lost.

type Handler = (payload: string) => void;

export class PgListener {
  private client: pg.Client | null = null;
  private handlers = new Map<string, Set<Handler>>();
  private reconnectHandlers = new Set<() => void>();
  private stopped = false;
  private failures = 0;
  private timer: NodeJS.Timeout | null = null;
  /** LISTEN commands go one after another: pg deprecates a query issued while one is running. */
  private listening: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly url: string,
    private readonly log: Logger,
  ) {}

  on(channel: string, handler: Handler): () => void {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      const client = this.client;
      if (client) {
        this.listening = this.listening
          .then(() => client.query(`LISTEN ${pg.escapeIdentifier(channel)}`))
          .catch(() => undefined);
      }
    }
    set.add(handler);
    return () => set!.delete(handler);
  }

  onReconnect(handler: () => void): void {
    this.reconnectHandlers.add(handler);
  }

  get connected(): boolean {
    return this.client !== null;
  }

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.url, keepAlive: true });
    client.on('notification', (n) => {
      for (const h of this.handlers.get(n.channel) ?? []) {
        try {
          h(n.payload ?? '');
        } catch (e) {
          this.log.error({ err: e, channel: n.channel }, 'notification handler failed');
        }
      }
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('connection ended')));
    try {
      await client.connect();
      for (const channel of this.handlers.keys()) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      const wasReconnect = this.failures > 0;
      this.client = client;
      this.failures = 0;
      if (wasReconnect) {
        this.log.info('listen connection restored');
        // A failing handler must not take the restored connection down with it, nor stop the others.
        for (const h of this.reconnectHandlers) {
          try {
            h();
          } catch (e) {
            this.log.error({ err: e }, 'reconnect handler failed');
          }
        }
      }
    } catch (err) {
      client.removeAllListeners('end');
      client.end().catch(() => undefined);
      this.lost(null, err as Error);
    }
  }

  private lost(client: pg.Client | null, err: Error): void {
    if (client && this.client !== client) return;
    this.client = null;
    if (this.stopped || this.timer) return;
    this.failures++;
    const delay = Math.min(100 * 2 ** Math.min(this.failures, 8), 10_000);
    this.log.warn({ err: err.message, retryInMs: delay }, 'listen connection lost; reconnecting');
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const c = this.client;
    this.client = null;
    if (c) await c.end().catch(() => undefined);
  }
}
