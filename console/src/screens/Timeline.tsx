import { useEffect } from 'react';
import { useMutation, useQuery, useSubscription } from 'urql';
import { graphql } from '../gql';
import { href } from '../router';
import { ErrorLine, When, WriteButton } from '../ui';
import type { DeliveryTimelineQuery } from '../gql/graphql';
import { DROPPED_KEY, phasesOf } from './forensics';

// One delivery from publish to its final state, every attempt with what the
// receiver answered; it follows new attempts live, so a redelivery shows up
// here as it happens.

const DeliveryQuery = graphql(`
  query DeliveryTimeline($id: ID!) {
    delivery(id: $id) {
      id
      status
      attemptCount
      createdAt
      lastAttemptAt
      nextAttemptAt
      webhook {
        id
        name
        destinationUrl
      }
      event {
        id
        type
        objectId
        isTest
        createdAt
        occurredAt
        payload
      }
      attempts {
        id
        attemptNumber
        outcome
        responseStatus
        durationMs
        responseBody
        errorMessage
        startedAt
        remoteAddress
        responseHeaders
        timings {
          dnsMs
          connectMs
          tlsMs
          firstByteMs
          totalMs
          reusedConnection
        }
      }
    }
  }
`);

const AttemptsOfEvent = graphql(`
  subscription TimelineAttempts($eventId: ID!) {
    deliveryAttempts(eventId: $eventId) {
      id
      deliveryId
    }
  }
`);

const Redeliver = graphql(`
  mutation Redeliver($id: ID!) {
    redeliver(deliveryId: $id) {
      id
      status
      nextAttemptAt
    }
  }
`);

const FINAL: Record<string, string> = {
  SUCCEEDED: 'Delivered',
  FAILED: 'Failed: no attempt left',
  CANCELLED: 'Cancelled',
};

export function Timeline({ id }: { id: string }) {
  const [{ data, error, fetching }, refetch] = useQuery({ query: DeliveryQuery, variables: { id } });
  const d = data?.delivery;
  const [{ data: seen = 0 }] = useSubscription(
    { query: AttemptsOfEvent, variables: { eventId: d?.event.id ?? '' }, pause: !d },
    (n: number = 0, next): number => (next.deliveryAttempts.deliveryId === id ? n + 1 : n),
  );
  useEffect(() => {
    if (seen > 0) refetch({ requestPolicy: 'network-only' });
  }, [seen, refetch]);
  const [redeliverResult, redeliver] = useMutation(Redeliver);
  if (fetching && !data) return <p className="page muted">Loading…</p>;
  if (!d) {
    return (
      <main className="page">
        <ErrorLine error={error ?? `No delivery ${id}: it may have been removed by retention.`} />
      </main>
    );
  }
  return (
    <main className="page">
      <p>
        <a href={href(['deliveries'])}>Deliveries</a> /
      </p>
      <h1>
        {d.event.type} {d.event.objectId} → {d.webhook.name}
      </h1>
      <p className="muted">
        Delivery {d.id} · event {d.event.id}
        {d.event.isTest && ' (test event)'} · <a href={href(['webhooks', d.webhook.id])}>{d.webhook.destinationUrl}</a>{' '}
        ·{' '}
        <a href={href(['deliveries'], { object: d.event.objectId })}>every delivery about object {d.event.objectId}</a>
      </p>
      <ol className="timeline" aria-label="Timeline">
        <li>
          <strong>Published</strong> <When at={d.event.createdAt} />
          <span className="muted">
            {' '}
            (occurred <When at={d.event.occurredAt} />)
          </span>
        </li>
        {d.attempts.map((a) => (
          <li key={a.id} className={`attempt attempt-${a.outcome}`}>
            <strong>Attempt {a.attemptNumber}</strong> <When at={a.startedAt} /> · <span>{a.outcome}</span>
            {a.responseStatus !== null && a.responseStatus !== undefined && <> · HTTP {a.responseStatus}</>} ·{' '}
            {a.durationMs} ms
            {a.errorMessage && <div className="error-text">{a.errorMessage}</div>}
            <Forensics attempt={a} />
            {a.responseBody && <pre className="excerpt">{a.responseBody}</pre>}
          </li>
        ))}
        {d.status === 'PENDING' && (
          <li>
            <strong>Next attempt</strong>{' '}
            {d.nextAttemptAt ? (
              <When at={d.nextAttemptAt} />
            ) : (
              <span className="muted">waiting (paused or ordered)</span>
            )}
          </li>
        )}
        {FINAL[d.status] && (
          <li>
            <strong>{FINAL[d.status]}</strong> <When at={d.lastAttemptAt} />
          </li>
        )}
      </ol>
      <p>
        Status: <span className={`status status-${d.status}`}>{d.status}</span> · {d.attemptCount} attempts
      </p>
      <WriteButton disabled={redeliverResult.fetching} onClick={() => void redeliver({ id: d.id })}>
        Redeliver
      </WriteButton>
      <ErrorLine error={redeliverResult.error} />
      <details>
        <summary>Payload</summary>
        <pre className="excerpt">{JSON.stringify(d.event.payload, null, 2)}</pre>
      </details>
    </main>
  );
}

type Attempt = NonNullable<DeliveryTimelineQuery['delivery']>['attempts'][number];

/** Where the attempt went and where its time went: the address, the phases as bars, the answer's headers. */
function Forensics({ attempt: a }: { attempt: Attempt }) {
  const t = a.timings;
  const headers = a.responseHeaders ?? null;
  if (!t && !a.remoteAddress && !headers) return null;
  const phases = t ? phasesOf(t) : [];
  const names = headers ? Object.keys(headers).filter((k) => k !== DROPPED_KEY) : [];
  const dropped = headers?.[DROPPED_KEY];
  return (
    <div className="forensics" aria-label={`Forensics of attempt ${a.attemptNumber}`}>
      {a.remoteAddress && (
        <div>
          Connected to <code>{a.remoteAddress}</code>
        </div>
      )}
      {t && (
        <div>
          <span>
            {t.totalMs} ms in all
            {t.reusedConnection ? ' · reused connection (no DNS, connect or TLS)' : ' · new connection'}
          </span>
          <ul className="phases" aria-label="Timings">
            {phases.map((p) => (
              <li key={p.label}>
                <span className="phase-label">{p.label}</span>{' '}
                <meter className="phase-bar" min={0} max={100} value={p.percent} aria-hidden="true" />{' '}
                <span>{p.ms === null ? '—' : `${p.ms} ms`}</span>
              </li>
            ))}
          </ul>
        </div>
      )}
      {headers && (
        <details>
          <summary>
            Response headers ({names.length}
            {typeof dropped === 'number' ? `, ${dropped} more left out past 8 KiB` : ''})
          </summary>
          <table aria-label={`Response headers of attempt ${a.attemptNumber}`}>
            <tbody>
              {names.map((n) => (
                <tr key={n}>
                  <th scope="row">{n}</th>
                  <td>{String(headers[n])}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      )}
    </div>
  );
}
