import { useState } from 'react';
import { useMutation } from 'urql';
import { graphql } from '../../gql';
import type { DeliveryOrdering, WebhookPageQuery } from '../../gql/graphql';
import { fieldErrors } from '../../fields';
import { ErrorLine, Field, OrderingSelect, WriteButton } from '../../ui';

// Name, destination and ordering: one updateWebhook, the server's message at
// the field it names.

export type WebhookView = NonNullable<WebhookPageQuery['webhook']>;

const UpdateWebhook = graphql(`
  mutation UpdateWebhook($id: ID!, $input: UpdateWebhookInput!) {
    updateWebhook(id: $id, input: $input) {
      id
      name
      destinationUrl
      ordering
      hasBearerToken
      hasHmacSecret
      updatedAt
    }
  }
`);

export function Settings({ webhook }: { webhook: WebhookView }) {
  const [name, setName] = useState(webhook.name);
  const [url, setUrl] = useState(webhook.destinationUrl);
  const [ordering, setOrdering] = useState<DeliveryOrdering>(webhook.ordering);
  const [saved, setSaved] = useState(false);
  const [result, update] = useMutation(UpdateWebhook);
  const { byField, other } = fieldErrors(result.error, 'input.');
  const changed = name !== webhook.name || url !== webhook.destinationUrl || ordering !== webhook.ordering;
  return (
    <section className="card" aria-label="Settings">
      <h2>Settings</h2>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          setSaved(false);
          void update({ id: webhook.id, input: { name, destinationUrl: url, ordering } }).then(
            (r) => !r.error && setSaved(true),
          );
        }}
      >
        <Field label="Name" error={byField.name}>
          <input value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field label="Destination URL" error={byField.destinationUrl}>
          <input value={url} onChange={(e) => setUrl(e.target.value)} />
        </Field>
        <Field label="Ordering" error={byField.ordering}>
          <OrderingSelect value={ordering} onChange={setOrdering} />
        </Field>
        <ErrorLine error={other} />
        <div className="row">
          <WriteButton type="submit" disabled={!changed || result.fetching}>
            Save settings
          </WriteButton>
          {saved && !changed && <span role="status">Saved.</span>}
        </div>
      </form>
    </section>
  );
}
