import { useState } from 'react';
import { useMutation } from 'urql';
import { graphql } from '../../gql';
import type { ReplayScope } from '../../gql/graphql';
import { go, href } from '../../router';
import { ErrorLine, Field, fromLocalInput, localInput, WriteButton } from '../../ui';
import type { WebhookView } from './Settings';

// What support does to a webhook during an incident: pause it, check it with a
// test event, send a window of deliveries again (counted first), delete it.

const Pause = graphql(`
  mutation PauseWebhook($id: ID!) {
    pauseWebhook(id: $id) {
      id
      status
      statusReason
    }
  }
`);

const Resume = graphql(`
  mutation ResumeWebhook($id: ID!) {
    resumeWebhook(id: $id) {
      id
      status
      statusReason
    }
  }
`);

const SendTest = graphql(`
  mutation SendTestEvent($id: ID!, $resource: ResourceType, $action: EventAction) {
    sendTestEvent(webhookId: $id, resource: $resource, action: $action) {
      id
    }
  }
`);

const Replay = graphql(`
  mutation ReplayDeliveries(
    $id: ID!
    $scope: ReplayScope
    $since: DateTimeISO!
    $until: DateTimeISO
    $dryRun: Boolean
  ) {
    replayDeliveries(webhookId: $id, scope: $scope, since: $since, until: $until, dryRun: $dryRun) {
      count
      dryRun
    }
  }
`);

const Delete = graphql(`
  mutation DeleteWebhook($id: ID!) {
    deleteWebhook(id: $id)
  }
`);

export function Actions({ webhook: w }: { webhook: WebhookView }) {
  return (
    <section className="card" aria-label="Actions">
      <h2>Actions</h2>
      <PauseResume webhook={w} />
      <TestEvent webhook={w} />
      <ReplayForm webhook={w} />
      <DeleteForm webhook={w} />
    </section>
  );
}

function PauseResume({ webhook: w }: { webhook: WebhookView }) {
  const [pauseResult, pause] = useMutation(Pause);
  const [resumeResult, resume] = useMutation(Resume);
  return (
    <div className="action">
      <h3>Delivery</h3>
      {w.status === 'ACTIVE' ? (
        <WriteButton disabled={pauseResult.fetching} onClick={() => void pause({ id: w.id })}>
          Pause
        </WriteButton>
      ) : (
        <WriteButton disabled={resumeResult.fetching} onClick={() => void resume({ id: w.id })}>
          Resume
        </WriteButton>
      )}
      <span className="muted">
        {w.status === 'ACTIVE'
          ? ' Deliveries wait while paused; nothing is lost.'
          : ' Waiting deliveries go out on resume.'}
      </span>
      <ErrorLine error={pauseResult.error ?? resumeResult.error} />
    </div>
  );
}

function TestEvent({ webhook: w }: { webhook: WebhookView }) {
  const [type, setType] = useState(w.subscriptions[0]?.eventType ?? '');
  const [result, send] = useMutation(SendTest);
  const sub = w.subscriptions.find((s) => s.eventType === type);
  return (
    <div className="action">
      <h3>Test event</h3>
      <div className="row">
        <label>
          Event type
          <select value={type} onChange={(e) => setType(e.target.value)}>
            <option value="">the first subscription</option>
            {w.subscriptions.map((s) => (
              <option key={s.id}>{s.eventType}</option>
            ))}
          </select>
        </label>
        <WriteButton
          disabled={result.fetching}
          onClick={() => void send({ id: w.id, ...(sub ? { resource: sub.resource, action: sub.action } : {}) })}
        >
          Send test event
        </WriteButton>
        {result.data && (
          <a href={href(['deliveries', result.data.sendTestEvent.id])} role="status">
            Test delivery queued: open it
          </a>
        )}
      </div>
      <ErrorLine error={result.error} />
    </div>
  );
}

function ReplayForm({ webhook: w }: { webhook: WebhookView }) {
  const [scope, setScope] = useState<ReplayScope>('FAILED');
  const [since, setSince] = useState(() => localInput(new Date(Date.now() - 24 * 3600_000)));
  const [until, setUntil] = useState('');
  const [counted, setCounted] = useState<number | null>(null);
  const [done, setDone] = useState<number | null>(null);
  const [result, replay] = useMutation(Replay);
  const vars = () => ({ id: w.id, scope, since: fromLocalInput(since) ?? '', until: fromLocalInput(until) });
  const changed = (f: () => void) => {
    f();
    setCounted(null);
    setDone(null);
  };
  return (
    <div className="action">
      <h3>Replay</h3>
      <div className="row">
        <Field label="Scope">
          <select value={scope} onChange={(e) => changed(() => setScope(e.target.value as ReplayScope))}>
            <option value="FAILED">FAILED: deliveries that failed</option>
            <option value="UNDELIVERED">UNDELIVERED: not received, including before it was subscribed</option>
            <option value="ALL">ALL: every matching event of the window</option>
          </select>
        </Field>
        <Field label="Since">
          <input type="datetime-local" value={since} onChange={(e) => changed(() => setSince(e.target.value))} />
        </Field>
        <Field label="Until (empty: now)">
          <input type="datetime-local" value={until} onChange={(e) => changed(() => setUntil(e.target.value))} />
        </Field>
        <WriteButton
          disabled={!since || result.fetching}
          onClick={() =>
            void replay({ ...vars(), dryRun: true }).then((r) => setCounted(r.data?.replayDeliveries.count ?? null))
          }
        >
          Count deliveries
        </WriteButton>
      </div>
      {counted !== null && done === null && (
        <div className="row" role="status">
          <span>
            {counted} {counted === 1 ? 'delivery' : 'deliveries'} would be sent again.
          </span>
          {counted > 0 && (
            <WriteButton
              onClick={() =>
                void replay({ ...vars(), dryRun: false }).then((r) => setDone(r.data?.replayDeliveries.count ?? null))
              }
            >
              Replay {counted} {counted === 1 ? 'delivery' : 'deliveries'}
            </WriteButton>
          )}
        </div>
      )}
      {done !== null && (
        <p role="status">
          Replaying {done} {done === 1 ? 'delivery' : 'deliveries'} (paced, oldest first).
        </p>
      )}
      <ErrorLine error={result.error} />
    </div>
  );
}

function DeleteForm({ webhook: w }: { webhook: WebhookView }) {
  const [typed, setTyped] = useState('');
  const [result, remove] = useMutation(Delete);
  return (
    <div className="action">
      <h3>Delete</h3>
      <div className="row">
        <label>
          Type the webhook's name to delete it
          <input value={typed} onChange={(e) => setTyped(e.target.value)} placeholder={w.name} />
        </label>
        <WriteButton
          danger
          disabled={typed !== w.name || result.fetching}
          onClick={() => void remove({ id: w.id }).then((r) => !r.error && go(['webhooks']))}
        >
          Delete webhook
        </WriteButton>
      </div>
      <ErrorLine error={result.error} />
    </div>
  );
}
