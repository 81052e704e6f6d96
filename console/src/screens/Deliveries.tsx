import { useState } from 'react';
import { useQuery } from 'urql';
import { useAccount } from '../account';
import { graphql } from '../gql';
import type { DeliveryStatus, EventAction, ResourceType } from '../gql/graphql';
import { go, href, type Route } from '../router';
import { ErrorLine, Pager, When } from '../ui';
import { useCatalog } from './webhook/SubscriptionGrid';
import { WebhookPicker } from './WebhookPicker';
import { EraseObject } from './EraseObject';

// The delivery log, newest first, one page at a time: by webhook, status,
// event type and object ("enrollment 42": every delivery of events about it,
// to every webhook). The filters live in the URL, so a search can be shared.

const DeliveriesQuery = graphql(`
  query DeliveryList(
    $webhookId: ID
    $status: DeliveryStatus
    $resource: ResourceType
    $action: EventAction
    $objectId: String
    $first: Int
    $after: String
    $accountId: ID
  ) {
    deliveries(
      webhookId: $webhookId
      status: $status
      resource: $resource
      action: $action
      objectId: $objectId
      first: $first
      after: $after
      accountId: $accountId
    ) {
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          id
          status
          attemptCount
          createdAt
          lastAttemptAt
          nextAttemptAt
          event {
            id
            type
            objectId
            isTest
          }
          webhook {
            id
            name
          }
        }
      }
    }
  }
`);

const STATUSES: DeliveryStatus[] = ['PENDING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];
const PAGE = 50;

export function Deliveries({ route }: { route: Route }) {
  const q = route.query;
  const webhookId = q.get('webhook');
  const status = q.get('status') as DeliveryStatus | null;
  const type = q.get('type');
  const objectId = q.get('object');
  const after = q.get('after');
  const catalog = useCatalog();
  const pairs =
    catalog?.flatMap((r) => r.eventTypes.map((t, i) => ({ type: t, resource: r.type, action: r.actions[i]! }))) ?? [];
  const pair = pairs.find((p) => p.type === type);
  const accountId = useAccount().id;
  const [{ data, error, fetching }] = useQuery({
    query: DeliveriesQuery,
    variables: {
      webhookId,
      status,
      resource: (pair?.resource ?? null) as ResourceType | null,
      action: (pair?.action ?? null) as EventAction | null,
      objectId,
      first: PAGE,
      after,
      accountId,
    },
    pause: !!type && !catalog,
  });
  const [objectText, setObjectText] = useState(objectId ?? '');
  const filters = { webhook: webhookId, status, type, object: objectId };
  const set = (change: Record<string, string | null>) => go(['deliveries'], { ...filters, ...change });
  const page = data?.deliveries;
  return (
    <main className="page">
      <h1>Deliveries</h1>
      <form
        className="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          set({ object: objectText.trim() || null });
        }}
      >
        <WebhookPicker value={webhookId} onChange={(webhook) => set({ webhook })} />
        <label>
          Status
          <select value={status ?? ''} onChange={(e) => set({ status: e.target.value || null })}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Event type
          <select value={type ?? ''} onChange={(e) => set({ type: e.target.value || null })}>
            <option value="">any</option>
            {pairs.map((p) => (
              <option key={p.type}>{p.type}</option>
            ))}
          </select>
        </label>
        <label>
          Object id
          <input value={objectText} onChange={(e) => setObjectText(e.target.value)} placeholder="e.g. 42" />
        </label>
        <button type="submit">Search</button>
      </form>
      <ErrorLine error={error} />
      {objectId && (
        <EraseObject
          key={objectId}
          objectId={objectId}
          resource={(pair?.resource ?? null) as ResourceType | null}
          catalog={catalog}
          accountId={accountId}
        />
      )}
      <table>
        <thead>
          <tr>
            <th>Created</th>
            <th>Event</th>
            <th>Object</th>
            <th>Webhook</th>
            <th>Status</th>
            <th>Attempts</th>
            <th>Last attempt</th>
            <th>Next attempt</th>
          </tr>
        </thead>
        <tbody>
          {page?.edges.map(({ node: d }) => (
            <tr key={d.id}>
              <td>
                <a href={href(['deliveries', d.id])} aria-label={`Delivery ${d.id}`}>
                  <When at={d.createdAt} />
                </a>
              </td>
              <td>
                {d.event.type}
                {d.event.isTest && <span className="muted"> (test)</span>}
              </td>
              <td>{d.event.objectId}</td>
              <td>
                <a href={href(['webhooks', d.webhook.id])}>{d.webhook.name}</a>
              </td>
              <td>
                <span className={`status status-${d.status}`}>{d.status}</span>
              </td>
              <td>{d.attemptCount}</td>
              <td>
                <When at={d.lastAttemptAt} />
              </td>
              <td>
                <When at={d.nextAttemptAt} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {fetching && !data && <p className="muted">Loading…</p>}
      {page && page.edges.length === 0 && <p className="muted">No delivery matches.</p>}
      <Pager path={['deliveries']} filters={filters} after={after} pageInfo={page?.pageInfo} />
    </main>
  );
}
