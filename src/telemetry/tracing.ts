import {
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  diag,
  propagation,
  trace,
  type Attributes,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type { NodeSDK, tracing } from '@opentelemetry/sdk-node';
import type { Logger } from '../logger.js';
import { randomHex } from '../domain/random.js';
import { VERSION } from '../version.js';

// Traces (contract revision 3): a publish is a `publishEvent` (or `publishEvents`)
// server span, in the publisher's trace when its request carried a W3C
// `traceparent`; each delivery of the event a `delivery` span under it; each
// try an `attempt` span under that. The event's trace context is stored with the
// event (events.trace_parent, written by the publishing statement itself), so a
// worker in any process continues the trace.
//
// A delivery lives from its publish to its last attempt, over retries that may
// run in different processes hours apart: no process can hold its span open.
// Its span id is therefore derived from the delivery's id (deliverySpanId), so
// every process names the same parent for its attempts without storing it; the
// span itself is exported once, by the process that settles the delivery
// (SUCCEEDED or FAILED), starting when the delivery was created (its id is a
// UUIDv7) and ending with its last attempt. Until then its attempts name a parent
// that has not arrived yet; a redelivery after it settled exports it again.
//
// The SDK is loaded only when OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER is set; otherwise
// nothing here runs but the parsing of an incoming traceparent and, for events
// published without one, a random trace id (Event.traceId: "or a new one").

/** `00-<trace id>-<span id>-<flags>`, as Hookline stores and sends it. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/**
 * A W3C traceparent header as Hookline stores it (version 00), or null when it
 * is absent or invalid (then a new trace is started, as the W3C spec says).
 * A later version's extra fields are dropped, as a version-00 parser must.
 */
export function parseTraceparent(header: string | string[] | undefined | null): string | null {
  if (typeof header !== 'string' || header.length > 512) return null;
  const m = TRACEPARENT.exec(header.trim());
  if (!m) return null;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string?];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return null;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return `00-${traceId}-${spanId}-${flags}`;
}

/** The trace id of a stored traceparent. */
export function traceIdOf(traceparent: string | null): string | null {
  return traceparent === null ? null : traceparent.slice(3, 35);
}

const flagsOf = (traceparent: string) => traceparent.slice(53, 55);

/**
 * The trace context stored with events published while tracing is off: the
 * publisher's own, else a new trace (not sampled: nothing of it is recorded).
 */
export function untracedParent(incoming: string | null): string {
  if (incoming !== null) return incoming;
  const hex = randomHex(24);
  return `00-${hex.slice(0, 32)}-${hex.slice(32)}-00`;
}

/**
 * The span id of a delivery's span: the last 16 hex digits of its id, random
 * in a UUIDv7 (62 random bits) as in a UUIDv4. Every process derives the same.
 */
export function deliverySpanId(deliveryId: string): string {
  return deliveryId.replace(/-/g, '').slice(16);
}

/** When a delivery was created, from its UUIDv7 id; null for an older (v4) id. */
function createdAtOf(deliveryId: string): number | null {
  return deliveryId[14] === '7' ? parseInt(deliveryId.slice(0, 8) + deliveryId.slice(9, 13), 16) : null;
}

/**
 * The traceparent a delivery request carries while tracing is off: in the
 * event's trace, naming a span of its own (recorded nowhere) under the delivery.
 */
export function untracedAttemptParent(eventParent: string | null, eventId: string): string {
  const traceId = traceIdOf(eventParent) ?? eventId.replace(/-/g, '');
  return `00-${traceId}-${randomHex(8)}-${eventParent ? flagsOf(eventParent) : '00'}`;
}

/** What the worker knows of a delivery when it tries it: a claimed delivery's (storage/sql/claim.ts). */
export interface DeliveryTrace {
  id: string;
  event_id: string;
  webhook_id: string;
  /** events.trace_parent: null for events stored before traces were (their trace id is then the event's id). */
  trace_parent: string | null;
}

/** One publish's span: its context is what the events store. */
export interface PublishSpan {
  readonly traceparent: string;
  end(attributes: Attributes, error?: unknown): void;
}

/** One attempt's span; `traceparent` names it, for the destination. */
export interface AttemptSpan {
  readonly traceId: string;
  readonly traceparent: string;
  end(attributes: Attributes, failed: boolean): void;
}

/**
 * Span ids the SDK would generate, but for the one span started inside `forced`:
 * the delivery span, whose ids every process derives alike.
 */
class DerivedIds implements tracing.IdGenerator {
  private traceId: string | null = null;
  private spanId: string | null = null;

  constructor(private readonly random: tracing.IdGenerator) {}

  forced<T>(traceId: string, spanId: string, start: () => T): T {
    this.traceId = traceId;
    this.spanId = spanId;
    try {
      return start();
    } finally {
      this.traceId = this.spanId = null;
    }
  }

  generateTraceId(): string {
    return this.traceId ?? this.random.generateTraceId();
  }

  generateSpanId(): string {
    return this.spanId ?? this.random.generateSpanId();
  }
}

const remote = (traceId: string, spanId: string, flags: string) =>
  trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: parseInt(flags, 16), isRemote: true });

const asTraceparent = (span: Span) => {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-${c.traceFlags.toString(16).padStart(2, '0')}`;
};

function endWith(span: Span, attributes: Attributes, error: unknown): void {
  span.setAttributes(attributes);
  if (error !== undefined) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

/** The spans of one process, while the SDK runs (startTracing). */
export class Tracing {
  constructor(
    private readonly tracer: Tracer,
    private readonly ids: DerivedIds,
    private readonly release: () => Promise<void>,
  ) {}

  /** A publish's server span, a child of the publisher's span when `incoming` names one. */
  publish(name: 'publishEvent' | 'publishEvents', incoming: string | null): PublishSpan {
    const parent =
      incoming === null ? ROOT_CONTEXT : remote(traceIdOf(incoming)!, incoming.slice(36, 52), flagsOf(incoming));
    const span = this.tracer.startSpan(name, { kind: SpanKind.SERVER }, parent);
    return { traceparent: asTraceparent(span), end: (attributes, error) => endWith(span, attributes, error) };
  }

  /** Starts an attempt's span under its delivery's (deliverySpanId). */
  attempt(d: DeliveryTrace, attemptNumber: number): AttemptSpan {
    const traceId = traceIdOf(d.trace_parent) ?? d.event_id.replace(/-/g, '');
    const parent = remote(traceId, deliverySpanId(d.id), d.trace_parent ? flagsOf(d.trace_parent) : '01');
    const span = this.tracer.startSpan(
      'attempt',
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': 'POST',
          'hookline.delivery.id': d.id,
          'hookline.attempt.number': attemptNumber,
        },
      },
      parent,
    );
    return {
      traceId,
      traceparent: asTraceparent(span),
      end: (attributes, failed) => {
        span.setAttributes(attributes);
        if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      },
    };
  }

  /**
   * The delivery's span, once it is settled: from its creation to now, under
   * the publish's span (a root of the event's trace for events stored without one).
   */
  delivered(d: DeliveryTrace, attributes: Attributes, failed: boolean): void {
    const spanId = deliverySpanId(d.id);
    const traceId = traceIdOf(d.trace_parent) ?? d.event_id.replace(/-/g, '');
    const parent = d.trace_parent
      ? remote(traceId, d.trace_parent.slice(36, 52), flagsOf(d.trace_parent))
      : ROOT_CONTEXT;
    const startTime = createdAtOf(d.id) ?? undefined;
    const span = this.ids.forced(traceId, spanId, () =>
      this.tracer.startSpan(
        'delivery',
        {
          kind: SpanKind.INTERNAL,
          startTime,
          attributes: {
            'hookline.delivery.id': d.id,
            'hookline.event.id': d.event_id,
            'hookline.webhook.id': d.webhook_id,
          },
        },
        parent,
      ),
    );
    span.setAttributes(attributes);
    if (failed) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }

  /** This user is done: the last one flushes the spans and stops the SDK. */
  stop(): Promise<void> {
    return this.release();
  }
}

/** The variables that turn tracing on (the SDK reads every other OTEL_* variable itself). */
export function tracingWanted(env: NodeJS.ProcessEnv): boolean {
  if (/^true$/i.test(env.OTEL_SDK_DISABLED ?? '')) return false;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim();
  if (exporter === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || exporter);
}

// One SDK per process, shared by every Hookline it runs (tests run several): the
// OpenTelemetry API registers a single global provider.
let shared: { tracing: Promise<Tracing>; users: number } | null = null;

/**
 * The process's tracing when the environment asks for it (tracingWanted), else
 * null. Each caller stops its own; spans are flushed when the last one stops.
 */
export async function startTracing(env: NodeJS.ProcessEnv, log: Logger): Promise<Tracing | null> {
  if (!tracingWanted(env)) return null;
  if (shared) {
    shared.users++;
    return shared.tracing;
  }
  const current = { tracing: load(env, log), users: 1 };
  shared = current;
  current.tracing.catch(() => {
    if (shared === current) shared = null;
  });
  return current.tracing;
}

async function load(env: NodeJS.ProcessEnv, log: Logger): Promise<Tracing> {
  const otel = await import('@opentelemetry/sdk-node');
  const ids = new DerivedIds(new otel.tracing.RandomIdGenerator());
  const named = env.OTEL_SERVICE_NAME || /(^|,)\s*service\.name\s*=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const sdk: NodeSDK = new otel.NodeSDK({
    idGenerator: ids,
    // Only traces: metrics are Prometheus's (/metrics), and Hookline writes no OpenTelemetry logs.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
    ...(named ? {} : { serviceName: 'hookline' }),
  });
  // After the SDK's constructor, which sets a console logger for OTEL_LOG_LEVEL: export failures become log lines.
  diag.setLogger(
    {
      error: (message, ...args) => log.error({ otel: args.map(String) }, `tracing: ${message}`),
      warn: (message, ...args) => log.warn({ otel: args.map(String) }, `tracing: ${message}`),
      info: (message) => log.debug(`tracing: ${message}`),
      debug: (message) => log.debug(`tracing: ${message}`),
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  sdk.start();
  log.info(
    {
      endpoint: env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || null,
      exporter: env.OTEL_TRACES_EXPORTER || 'otlp',
    },
    'tracing on',
  );
  const release = async () => {
    if (!shared || --shared.users > 0) return;
    shared = null;
    await sdk.shutdown();
    // Unregistered, so that a later start in this process (tests) registers its own.
    trace.disable();
    context.disable();
    propagation.disable();
    diag.disable();
  };
  return new Tracing(trace.getTracer('hookline', VERSION), ids, release);
}
