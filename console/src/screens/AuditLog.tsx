import { useState } from 'react';
import { useQuery } from 'urql';
import { useAccount } from '../account';
import { graphql } from '../gql';
import { go, href, type Route } from '../router';
import { ErrorLine, Pager, When } from '../ui';

// Who changed what, and when: newest first, by target (a webhook's history)
// or by action. Secrets appear only as "set", "cleared" or "rotated".

const AuditQuery = graphql(`
  query AuditLog($targetId: ID, $action: String, $first: Int, $after: String, $accountId: ID) {
    auditLog(targetId: $targetId, action: $action, first: $first, after: $after, accountId: $accountId) {
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          id
          at
          actorName
          action
          targetType
          targetId
          changes
        }
      }
    }
  }
`);

const PAGE = 50;

export function AuditLog({ route }: { route: Route }) {
  const targetId = route.query.get('target');
  const action = route.query.get('action');
  const after = route.query.get('after');
  const [target, setTarget] = useState(targetId ?? '');
  const [actionText, setActionText] = useState(action ?? '');
  const accountId = useAccount().id;
  const [{ data, error, fetching }] = useQuery({
    query: AuditQuery,
    variables: { targetId, action, first: PAGE, after, accountId },
  });
  const page = data?.auditLog;
  const filters = { target: targetId, action };
  return (
    <main className="page">
      <h1>Audit log</h1>
      <form
        className="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          go(['audit'], { target: target.trim() || null, action: actionText.trim() || null });
        }}
      >
        <label>
          Target id
          <input value={target} onChange={(e) => setTarget(e.target.value)} placeholder="a webhook or key id" />
        </label>
        <label>
          Action
          <input
            value={actionText}
            onChange={(e) => setActionText(e.target.value)}
            placeholder="e.g. webhook.updated"
          />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ErrorLine error={error} />
      <table aria-label="Audit entries">
        <thead>
          <tr>
            <th>When</th>
            <th>Who</th>
            <th>What</th>
            <th>Target</th>
            <th>Changes</th>
          </tr>
        </thead>
        <tbody>
          {page?.edges.map(({ node: a }) => (
            <tr key={a.id}>
              <td>
                <When at={a.at} />
              </td>
              <td>{a.actorName}</td>
              <td>{a.action}</td>
              <td>
                {a.targetType}{' '}
                {a.targetId &&
                  (a.targetType === 'Webhook' ? (
                    <a href={href(['webhooks', a.targetId])}>{a.targetId}</a>
                  ) : a.targetType === 'Delivery' ? (
                    <a href={href(['deliveries', a.targetId])}>{a.targetId}</a>
                  ) : (
                    <span className="muted">{a.targetId}</span>
                  ))}
              </td>
              <td>
                <Changes changes={a.changes} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {fetching && !data && <p className="muted">Loading…</p>}
      {page && page.edges.length === 0 && <p className="muted">No entry matches.</p>}
      <Pager path={['audit']} filters={filters} after={after} pageInfo={page?.pageInfo} />
    </main>
  );
}

const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** Each field's old → new value, as the audit entry records it. */
function Changes({ changes }: { changes: Record<string, unknown> }) {
  const fields = Object.entries(changes);
  if (fields.length === 0) return <span className="muted">—</span>;
  return (
    <dl className="changes">
      {fields.map(([field, change]) => {
        const c = change && typeof change === 'object' ? (change as Record<string, unknown>) : null;
        const text =
          c && ('old' in c || 'new' in c)
            ? `${'old' in c ? show(c.old) : '∅'} → ${'new' in c ? show(c.new) : '∅'}`
            : show(change);
        return (
          <div key={field}>
            <dt>{field}</dt>
            <dd>{text}</dd>
          </div>
        );
      })}
    </dl>
  );
}
