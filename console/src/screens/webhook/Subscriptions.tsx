import { useState } from 'react';
import { useMutation, type CombinedError } from 'urql';
import { graphql } from '../../gql';
import { fieldErrors, subscriptionErrors } from '../../fields';
import { ErrorLine, WriteButton } from '../../ui';
import { SubscriptionGrid, useCatalog } from './SubscriptionGrid';
import { sameFilter, selectionOf, toInputs, type Selection } from './grid-model';
import type { WebhookView } from './Settings';

// The grid against what the webhook has, saved as one setWebhookSubscriptions:
// pairs added and removed and filters changed in one transaction, so a
// changed filter never leaves a moment in which the webhook is unsubscribed,
// and a refused filter changes nothing.

const SetSubscriptions = graphql(`
  mutation SetSubscriptions($id: ID!, $subs: [SubscriptionInput!]!) {
    setWebhookSubscriptions(webhookId: $id, subscriptions: $subs) {
      id
      subscriptions {
        id
        resource
        action
        eventType
        filter
      }
    }
  }
`);

export function Subscriptions({ webhookId, current }: { webhookId: string; current: WebhookView['subscriptions'] }) {
  const catalog = useCatalog();
  const base = selectionOf(current);
  const [selection, setSelection] = useState<Selection>(base);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<CombinedError | null>(null);
  const [result, set] = useMutation(SetSubscriptions);

  const added = Object.keys(selection).filter((t) => !base[t]);
  const removed = Object.keys(base).filter((t) => !selection[t]);
  const refiltered = Object.keys(selection).filter((t) => base[t] && !sameFilter(base[t].filter, selection[t]!.filter));
  const dirty = added.length + removed.length + refiltered.length > 0;

  const save = async () => {
    setFailure(null);
    const types = Object.keys(selection);
    const { inputs, errors: local } = toInputs(types, selection);
    setErrors(local);
    if (Object.keys(local).length) return;
    const r = await set({ id: webhookId, subs: inputs });
    if (r.error) {
      setErrors(subscriptionErrors(fieldErrors(r.error).byField, 'subscriptions', types));
      setFailure(r.error);
    }
  };

  const unplaced = failure && Object.keys(errors).length === 0 ? failure : null;
  return (
    <section className="card" aria-label="Subscriptions">
      <h2>Subscriptions</h2>
      {catalog && <SubscriptionGrid catalog={catalog} value={selection} onChange={setSelection} errors={errors} />}
      <ErrorLine error={unplaced} />
      <div className="row">
        <WriteButton disabled={!dirty || result.fetching} onClick={() => void save()}>
          Save subscriptions
        </WriteButton>
        {dirty && (
          <span className="muted">
            {added.length} to add, {removed.length} to remove, {refiltered.length} filters changed
          </span>
        )}
      </div>
    </section>
  );
}
