import { useState } from 'react';
import { useSubscription } from 'urql';
import { useAccount } from '../account';
import { graphql } from '../gql';
import type { LiveAttemptsSubscription } from '../gql/graphql';
import { closeExplained, useLink } from '../link';
import { go, href, type Route } from '../router';
import { When } from '../ui';
import { useWebhookNames, WebhookPicker } from './WebhookPicker';

// Attempts as they finish, over graphql-ws, newest on top; paused, the page
// keeps what arrives and shows it on resume. Webhook status changes (paused,
// disabled after 410 Gone, …) appear as notices above.

const LiveAttempts = graphql(`
  subscription LiveAttempts($webhookId: ID, $accountId: ID) {
    deliveryAttempts(webhookId: $webhookId, accountId: $accountId) {
      id
      deliveryId
      webhookId
      eventId
      attemptNumber
      outcome
      responseStatus
      durationMs
      errorMessage
      startedAt
    }
  }
`);

const StatusChanges = graphql(`
  subscription LiveStatusChanges($webhookId: ID, $accountId: ID) {
    webhookStatusChanged(webhookId: $webhookId, accountId: $accountId) {
      id
      name
      status
      statusReason
    }
  }
`);

type Attempt = LiveAttemptsSubscription['deliveryAttempts'];
interface Notice {
  at: string;
  text: string;
}
/** Rows kept on the page: enough to read an incident, bounded so a busy hour cannot exhaust the tab. */
const KEEP = 200;

export function Live({ route }: { route: Route }) {
  const webhookId = route.query.get('webhook');
  const link = useLink();
  // While paused the page shows what it had; what arrives meanwhile waits in `all`.
  const [frozen, setFrozen] = useState<Attempt[] | null>(null);
  const nameOf = new Map(useWebhookNames().map((w) => [w.id, w.name]));
  const accountId = useAccount().id;

  const [{ data: all = [] }] = useSubscription(
    { query: LiveAttempts, variables: { webhookId, accountId } },
    (rows: Attempt[] = [], next): Attempt[] => [next.deliveryAttempts, ...rows].slice(0, KEEP),
  );
  const [{ data: notices = [] }] = useSubscription(
    { query: StatusChanges, variables: { webhookId, accountId } },
    (list: Notice[] = [], next): Notice[] => {
      const w = next.webhookStatusChanged;
      const text = `${w.name} is now ${w.status}${w.statusReason ? `: ${w.statusReason}` : ''}`;
      return [{ at: new Date().toISOString(), text }, ...list].slice(0, 20);
    },
  );
  const shown = frozen ?? all;
  const newest = frozen?.[0];
  const waitingCount = frozen ? (newest ? all.findIndex((a) => a.id === newest.id) : all.length) : 0;

  const closed = link.state === 'closed' ? closeExplained(link.code) : null;
  return (
    <main className="page">
      <h1>Live</h1>
      <div className="toolbar">
        <WebhookPicker value={webhookId} onChange={(webhook) => go(['live'], { webhook })} />
        {frozen ? (
          <button type="button" onClick={() => setFrozen(null)}>
            Resume ({waitingCount < 0 ? `${KEEP}+` : waitingCount} waiting)
          </button>
        ) : (
          <button type="button" onClick={() => setFrozen(all)}>
            Pause
          </button>
        )}
        <span role="status" className={`link link-${link.state}`}>
          Connection: {link.state}
        </span>
      </div>
      {closed && (
        <p className="notice" role="alert">
          {closed} Reconnecting…
        </p>
      )}
      {!closed && link.lastClose && (
        <p className="muted" role="status">
          Reconnected. At <When at={link.lastClose.at} />: {closeExplained(link.lastClose.code)} Attempts that finished
          meanwhile are in <a href={href(['deliveries'], webhookId ? { webhook: webhookId } : {})}>Deliveries</a>.
        </p>
      )}
      {notices.length > 0 && (
        <ul className="notices" aria-label="Status changes">
          {notices.map((n) => (
            <li key={n.at + n.text}>
              <When at={n.at} /> {n.text}
            </li>
          ))}
        </ul>
      )}
      <table aria-label="Attempts">
        <thead>
          <tr>
            <th>Started</th>
            <th>Webhook</th>
            <th>Attempt</th>
            <th>Outcome</th>
            <th>HTTP</th>
            <th>Duration</th>
            <th>Error</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((a) => (
            <tr key={a.id} className={`attempt-${a.outcome}`}>
              <td>
                <a href={href(['deliveries', a.deliveryId])}>
                  <When at={a.startedAt} />
                </a>
              </td>
              <td>{nameOf.get(a.webhookId) ?? a.webhookId}</td>
              <td>{a.attemptNumber}</td>
              <td>{a.outcome}</td>
              <td>{a.responseStatus ?? '—'}</td>
              <td>{a.durationMs} ms</td>
              <td className="error-text">{a.errorMessage}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {shown.length === 0 && <p className="muted">Waiting for attempts…</p>}
    </main>
  );
}
