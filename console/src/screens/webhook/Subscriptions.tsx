import { useState } from 'react';
import { useMutation, type CombinedError } from 'urql';
import { graphql } from '../../gql';
import { fieldErrors, subscriptionErrors } from '../../fields';
import { ErrorLine, WriteButton } from '../../ui';
import { SubscriptionGrid, useCatalog } from './SubscriptionGrid';
import { sameFilter, selectionOf, toInputs, type Selection } from './subscriptions';
import type { WebhookView } from './Settings';

// The grid against what the webhook has: pairs added, pairs removed, and a
// changed filter as remove-then-add (a subscription has one filter). When an
// add is refused, the filters it replaced are put back, so a typo in a filter
// never leaves the webhook unsubscribed.

const AddSubscriptions = graphql(`
  mutation AddSubscriptions($id: ID!, $subs: [SubscriptionInput!]!) {
    addWebhookSubscriptions(webhookId: $id, subscriptions: $subs) {
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

const RemoveSubscriptions = graphql(`
  mutation RemoveSubscriptions($id: ID!, $subs: [SubscriptionInput!]!) {
    removeWebhookSubscriptions(webhookId: $id, subscriptions: $subs) {
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
  const [busy, setBusy] = useState(false);
  const [, add] = useMutation(AddSubscriptions);
  const [, remove] = useMutation(RemoveSubscriptions);

  const added = Object.keys(selection).filter((t) => !base[t]);
  const removed = Object.keys(base).filter((t) => !selection[t]);
  const refiltered = Object.keys(selection).filter((t) => base[t] && !sameFilter(base[t].filter, selection[t]!.filter));
  const dirty = added.length + removed.length + refiltered.length > 0;

  const save = async () => {
    setFailure(null);
    const toAdd = [...added, ...refiltered];
    const { inputs, errors: local } = toInputs(toAdd, selection);
    setErrors(local);
    if (Object.keys(local).length) return;
    setBusy(true);
    try {
      const pairs = (types: string[]) => types.map((t) => ({ resource: base[t]!.resource, action: base[t]!.action }));
      if (refiltered.length) {
        const r = await remove({ id: webhookId, subs: pairs(refiltered) });
        if (r.error) return setFailure(r.error);
      }
      if (toAdd.length) {
        const r = await add({ id: webhookId, subs: inputs });
        if (r.error) {
          if (refiltered.length) await add({ id: webhookId, subs: toInputs(refiltered, base).inputs });
          setErrors(subscriptionErrors(fieldErrors(r.error).byField, 'subscriptions', toAdd));
          return setFailure(r.error);
        }
      }
      if (removed.length) {
        const r = await remove({ id: webhookId, subs: pairs(removed) });
        if (r.error) return setFailure(r.error);
      }
      setErrors({});
    } finally {
      setBusy(false);
    }
  };

  const unplaced = failure && Object.keys(errors).length === 0 ? failure : null;
  return (
    <section className="card" aria-label="Subscriptions">
      <h2>Subscriptions</h2>
      {catalog && <SubscriptionGrid catalog={catalog} value={selection} onChange={setSelection} errors={errors} />}
      <ErrorLine error={unplaced} />
      <div className="row">
        <WriteButton disabled={!dirty || busy} onClick={() => void save()}>
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
