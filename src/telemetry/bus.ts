import type { AttemptOutcome } from '../domain/outcome.js';
import type { Logger } from '../logger.js';

// What the service reports about itself as it works: typed events that the
// publisher, the worker and maintenance emit and any number of listeners
// (the metrics, today) subscribe to, so measuring is not code spread through
// the hot path. Emitting with no listener costs a property read. A listener
// that throws never fails the emitter: the publish or attempt it reports on is
// already committed. Its first failure is logged; later ones are not, so a
// broken listener cannot flood the log from the hot path.

export interface TelemetryEvents {
  /** Events stored by one publish statement. */
  published: { resource: string; action: string; events: number };
  /** A publishEvent call, from validation to its answer. */
  publishTime: { seconds: number };
  /** An attempt finished and was recorded. */
  attempt: { outcome: AttemptOutcome; seconds: number };
  /** A delivery reached its final state. */
  finished: { status: 'SUCCEEDED' | 'FAILED' | 'CANCELLED'; deliveries: number };
  /** Claims handed back because this instance lacks the key their webhook's secrets are sealed with. */
  secretKeyMissing: { deliveries: number };
  /** Circuits a batch of attempts opened (the breaker). */
  circuitOpened: { circuits: number };
  /** Probes of open circuits started. */
  probes: { probes: number };
  /** Rows removed by retention. */
  pruned: { table: string; rows: number };
}

type Listener<K extends keyof TelemetryEvents> = (payload: TelemetryEvents[K]) => void;

export class Telemetry {
  private readonly listeners = new Map<keyof TelemetryEvents, ((payload: never) => void)[]>();
  private readonly failed = new WeakSet<object>();

  constructor(private readonly log: Logger) {}

  on<K extends keyof TelemetryEvents>(name: K, listener: Listener<K>): void {
    const list = this.listeners.get(name) ?? [];
    list.push(listener as (payload: never) => void);
    this.listeners.set(name, list);
  }

  emit<K extends keyof TelemetryEvents>(name: K, payload: TelemetryEvents[K]): void {
    const list = this.listeners.get(name) as Listener<K>[] | undefined;
    if (!list) return;
    for (const l of list) {
      try {
        l(payload);
      } catch (err) {
        if (this.failed.has(l)) continue;
        this.failed.add(l);
        this.log.error(
          { signal: name, err: err instanceof Error ? err.message : String(err) },
          'a signal listener failed (logged once per listener); the work it reports on is done',
        );
      }
    }
  }
}
