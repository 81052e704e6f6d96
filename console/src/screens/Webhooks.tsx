import { useState } from 'react';
import { useQuery } from 'urql';
import { useAccount } from '../account';
import { graphql } from '../gql';
import type { WebhookStatus } from '../gql/graphql';
import { go, href, type Route } from '../router';
import { ErrorLine, Pager, When, WriteButton } from '../ui';
import { CircuitBadge } from './webhook/Protection';

const WebhooksQuery = graphql(`
  query WebhookList($status: WebhookStatus, $search: String, $first: Int, $after: String, $accountId: ID) {
    webhooks(status: $status, search: $search, first: $first, after: $after, accountId: $accountId) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          id
          name
          destinationUrl
          status
          statusReason
          circuit {
            state
            nextProbeAt
          }
          stats(hours: 24) {
            attempts
            successRate
            pendingDeliveries
            lastAttemptAt
          }
        }
      }
    }
  }
`);

const STATUSES: WebhookStatus[] = ['ACTIVE', 'PAUSED', 'DISABLED'];
const PAGE = 25;

export function Webhooks({ route }: { route: Route }) {
  const status = (route.query.get('status') as WebhookStatus | null) ?? null;
  const search = route.query.get('q');
  const after = route.query.get('after');
  const [text, setText] = useState(search ?? '');
  const accountId = useAccount().id;
  const [{ data, error, fetching }] = useQuery({
    query: WebhooksQuery,
    variables: { status, search, first: PAGE, after, accountId },
  });
  const filters = { status, q: search };
  const page = data?.webhooks;
  return (
    <main className="page">
      <h1>Webhooks</h1>
      <form
        className="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          go(['webhooks'], { ...filters, q: text.trim() || null });
        }}
      >
        <label>
          Name or URL
          <input value={text} onChange={(e) => setText(e.target.value)} placeholder="part of a name or URL" />
        </label>
        <button type="submit">Search</button>
        <label>
          Status
          <select
            value={status ?? ''}
            onChange={(e) => go(['webhooks'], { ...filters, status: e.target.value || null })}
          >
            <option value="">all</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <WriteButton onClick={() => go(['webhooks', 'new'])}>New webhook</WriteButton>
        {page && (
          <span className="muted">
            {page.totalCount} {page.totalCount === 1 ? 'webhook' : 'webhooks'}
          </span>
        )}
      </form>
      <ErrorLine error={error} />
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Destination</th>
            <th>Status</th>
            <th>Success (24 h)</th>
            <th>Attempts (24 h)</th>
            <th>Pending</th>
            <th>Last attempt</th>
          </tr>
        </thead>
        <tbody>
          {page?.edges.map(({ node: w }) => (
            <tr key={w.id}>
              <td>
                <a href={href(['webhooks', w.id])}>{w.name}</a>
              </td>
              <td className="url">{w.destinationUrl}</td>
              <td>
                <span className={`status status-${w.status}`}>{w.status}</span> <CircuitBadge circuit={w.circuit} />
                {w.statusReason && <div className="muted">{w.statusReason}</div>}
              </td>
              <td>{w.stats.successRate === null ? '—' : `${Math.round(w.stats.successRate * 100)} %`}</td>
              <td>{w.stats.attempts}</td>
              <td>{w.stats.pendingDeliveries}</td>
              <td>
                <When at={w.stats.lastAttemptAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {fetching && !data && <p className="muted">Loading…</p>}
      <Pager path={['webhooks']} filters={filters} after={after} pageInfo={page?.pageInfo} />
    </main>
  );
}
