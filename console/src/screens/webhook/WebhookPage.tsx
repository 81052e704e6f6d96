import { useQuery } from 'urql';
import { accountLabel } from '../../account';
import { graphql } from '../../gql';
import { href } from '../../router';
import { ErrorLine, When } from '../../ui';
import { Actions } from './Actions';
import { HourlyChart } from './HourlyChart';
import { Headers } from './Headers';
import { CircuitBadge, Protection } from './Protection';
import { Secrets } from './Secrets';
import { Settings } from './Settings';
import { Subscriptions } from './Subscriptions';

// One webhook: its state and last day at a glance, then each thing support
// may change, each saved on its own (a failed save leaves the others alone).

const WebhookQuery = graphql(`
  query WebhookPage($id: ID!) {
    webhook(id: $id) {
      id
      name
      destinationUrl
      status
      statusReason
      ordering
      hasBearerToken
      hasHmacSecret
      signingPublicKey
      previousSecretExpiresAt
      headers {
        name
        value
        secret
      }
      createdAt
      updatedAt
      rateLimit
      maxInFlight
      circuit {
        state
        consecutiveFailures
        openedAt
        nextProbeAt
      }
      account {
        id
        key
        name
      }
      subscriptions {
        id
        resource
        action
        eventType
        filter
      }
      stats(hours: 24) {
        attempts
        succeeded
        failed
        successRate
        averageDurationMs
        pendingDeliveries
        oldestPendingAt
        lastAttemptAt
        hourly {
          hour
          attempts
          succeeded
          failed
        }
      }
    }
  }
`);

export function WebhookPage({ id }: { id: string }) {
  const [{ data, error, fetching }] = useQuery({ query: WebhookQuery, variables: { id } });
  if (fetching && !data) return <p className="page muted">Loading…</p>;
  const w = data?.webhook;
  if (!w) {
    return (
      <main className="page">
        <ErrorLine error={error ?? `No webhook ${id}: it may have been deleted.`} />
        <a href={href(['webhooks'])}>All webhooks</a>
      </main>
    );
  }
  const s = w.stats;
  return (
    <main className="page">
      <p>
        <a href={href(['webhooks'])}>Webhooks</a> /
      </p>
      <h1>{w.name}</h1>
      <ErrorLine error={error} />
      <p aria-label="Account">Account: {accountLabel(w.account)}</p>
      <p>
        <span className={`status status-${w.status}`}>{w.status}</span> <CircuitBadge circuit={w.circuit} />
        {w.statusReason && <span className="muted"> {w.statusReason}</span>} · created <When at={w.createdAt} /> ·
        updated <When at={w.updatedAt} /> · <a href={href(['deliveries'], { webhook: w.id })}>Deliveries</a> ·{' '}
        <a href={href(['audit'], { target: w.id })}>History</a>
      </p>
      <section aria-label="Last 24 hours" className="card">
        <h2>Last 24 hours</h2>
        <dl className="figures">
          <dt>Attempts</dt>
          <dd>{s.attempts}</dd>
          <dt>Succeeded</dt>
          <dd>{s.succeeded}</dd>
          <dt>Failed</dt>
          <dd>{s.failed}</dd>
          <dt>Success rate</dt>
          <dd>
            {s.successRate === null || s.successRate === undefined ? '—' : `${Math.round(s.successRate * 100)} %`}
          </dd>
          <dt>Average duration</dt>
          <dd>{s.averageDurationMs == null ? '—' : `${Math.round(s.averageDurationMs)} ms`}</dd>
          <dt>Pending</dt>
          <dd>
            {s.pendingDeliveries}
            {s.oldestPendingAt && (
              <span className="muted">
                {' '}
                (oldest <When at={s.oldestPendingAt} />)
              </span>
            )}
          </dd>
          <dt>Last attempt</dt>
          <dd>
            <When at={s.lastAttemptAt} />
          </dd>
        </dl>
        <HourlyChart hourly={s.hourly} />
      </section>
      <Protection webhook={w} />
      <Settings webhook={w} />
      <Subscriptions webhookId={w.id} current={w.subscriptions} />
      <Headers webhook={w} />
      <Secrets webhook={w} />
      <Actions webhook={w} />
    </main>
  );
}
