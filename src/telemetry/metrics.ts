import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CATALOG } from '../domain/catalog.js';
import { ATTEMPT_OUTCOMES, WEBHOOK_STATUSES } from '../domain/statuses.js';
import type { Telemetry } from './bus.js';

// Prometheus metrics, one subscriber of the telemetry. No label names a webhook:
// per-webhook figures belong to the API (Webhook.stats), where their number
// cannot grow without bound. Figures read from the database are read at most
// once per QUERY_EVERY_MS, whatever the scrape rate. README lists every name.

const QUERY_EVERY_MS = 5_000;

export interface MetricSources {
  queue(): Promise<{ due: number; oldestDueSeconds: number }>;
  webhooks(): Promise<{ status: string; n: number }[]>;
  /** Attempts in flight in this process's worker (0 without one). */
  inFlight(): number;
  /** Live-feed subscriptions served by this process. */
  feedSubscribers(): number;
  /** Distinct executions behind them (subscribers of the same operation share one). */
  feedExecutions(): number;
}

/** The last value of `read`, refreshed at most every `ms` (concurrent scrapes share one read). */
function every<T>(ms: number, read: () => Promise<T>): () => Promise<T> {
  let at = -Infinity;
  let value: Promise<T> | null = null;
  return () => {
    const now = Date.now();
    if (!value || now - at >= ms) {
      at = now;
      const next = read();
      // A failed read is tried again at the next scrape, not cached.
      value = next.catch((e: unknown) => {
        at = -Infinity;
        throw e;
      });
    }
    return value;
  };
}

export class Metrics {
  readonly registry = new Registry();

  constructor(telemetry: Telemetry, sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });

    const published = new Counter({
      name: 'hookline_events_published_total',
      help: 'Events stored by publishEvent, by resource and action.',
      labelNames: ['resource', 'action'] as const,
      registers,
    });
    const publishTime = new Histogram({
      name: 'hookline_publish_duration_seconds',
      help: 'Time a publishEvent call takes, from validation to its answer (the durable commit included).',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    const attempts = new Counter({
      name: 'hookline_attempts_total',
      help: 'Delivery attempts recorded, by outcome.',
      labelNames: ['outcome'] as const,
      registers,
    });
    const attemptTime = new Histogram({
      name: 'hookline_attempt_duration_seconds',
      help: 'Time from sending an attempt to its answer (or its failure).',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    const finished = new Counter({
      name: 'hookline_deliveries_finished_total',
      help: 'Deliveries that reached a final state: SUCCEEDED, FAILED or CANCELLED.',
      labelNames: ['status'] as const,
      registers,
    });
    const pruned = new Counter({
      name: 'hookline_pruned_rows_total',
      help: 'Rows removed by retention, by table.',
      labelNames: ['table'] as const,
      registers,
    });
    const keyMissing = new Counter({
      name: 'hookline_secret_key_missing_total',
      help: 'Claims handed back because this instance lacks the key their webhook secrets are sealed with (see /readyz).',
      registers,
    });
    // Per installation, not per webhook: a label per webhook would grow without bound.
    const circuitsOpened = new Counter({
      name: 'hookline_circuit_opened_total',
      help: 'Circuits opened by failed attempts in a row (webhook.failing notices).',
      registers,
    });
    const probes = new Counter({
      name: 'hookline_circuit_probes_total',
      help: 'Probes sent to destinations with an open circuit.',
      registers,
    });
    // Every label value exists from the start, so rate() sees the first increment.
    for (const r of CATALOG) for (const action of r.actions) published.labels(r.type, action).inc(0);
    for (const outcome of ATTEMPT_OUTCOMES) attempts.labels(outcome).inc(0);
    for (const status of ['SUCCEEDED', 'FAILED', 'CANCELLED']) finished.labels(status).inc(0);
    for (const table of ['events', 'deliveries', 'delivery_attempts', 'audit_log']) pruned.labels(table).inc(0);

    telemetry.on('published', (p) => published.labels(p.resource, p.action).inc(p.events));
    telemetry.on('publishTime', (p) => publishTime.observe(p.seconds));
    telemetry.on('attempt', (p) => {
      attempts.labels(p.outcome).inc();
      attemptTime.observe(p.seconds);
    });
    telemetry.on('finished', (p) => finished.labels(p.status).inc(p.deliveries));
    telemetry.on('pruned', (p) => pruned.labels(p.table).inc(p.rows));
    telemetry.on('secretKeyMissing', (p) => keyMissing.inc(p.deliveries));
    telemetry.on('circuitOpened', (p) => circuitsOpened.inc(p.circuits));
    telemetry.on('probes', (p) => probes.inc(p.probes));

    const queue = every(QUERY_EVERY_MS, sources.queue);
    const webhooks = every(QUERY_EVERY_MS, sources.webhooks);
    new Gauge({
      name: 'hookline_queue_due',
      help: 'Deliveries due and not claimed, counted up to 1,000,000 (read from the database every few seconds).',
      registers,
      async collect() {
        this.set((await queue()).due);
      },
    });
    new Gauge({
      name: 'hookline_queue_oldest_due_seconds',
      help: 'How long the oldest due delivery has been waiting; 0 when none is due.',
      registers,
      async collect() {
        this.set((await queue()).oldestDueSeconds);
      },
    });
    new Gauge({
      name: 'hookline_webhooks',
      help: 'Webhooks (not deleted), by status.',
      labelNames: ['status'] as const,
      registers,
      async collect() {
        const counts = new Map((await webhooks()).map((r) => [r.status, r.n]));
        for (const status of WEBHOOK_STATUSES) this.labels(status).set(counts.get(status) ?? 0);
      },
    });
    new Gauge({
      name: 'hookline_worker_in_flight',
      help: "Attempts in flight in this process's worker.",
      registers,
      collect() {
        this.set(sources.inFlight());
      },
    });
    new Gauge({
      name: 'hookline_feed_executions',
      help: 'Distinct live-feed executions: subscribers of the same operation share one.',
      registers,
      collect() {
        this.set(sources.feedExecutions());
      },
    });
    new Gauge({
      name: 'hookline_feed_subscribers',
      help: 'Live-feed subscriptions this process serves.',
      registers,
      collect() {
        this.set(sources.feedSubscribers());
      },
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
