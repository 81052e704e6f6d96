import { useState } from 'react';
import { useMutation } from 'urql';
import { accountLabel, useAccount } from '../../account';
import { useReadOnlyReason } from '../../auth';
import { graphql } from '../../gql';
import type { DeliveryOrdering } from '../../gql/graphql';
import { fieldErrors, subscriptionErrors } from '../../fields';
import { href } from '../../router';
import { ErrorLine, Field, OrderingSelect, SecretOnce, WriteButton } from '../../ui';
import { SubscriptionGrid, useCatalog } from './SubscriptionGrid';
import { toInputs, type Selection } from './grid-model';
import { HeaderRows, inputsOf, type HeaderRow } from './Headers';

// A new webhook: where it goes, how it is signed, what it receives. A
// generated HMAC secret comes back in this one response and is shown once.
// It belongs to the account chosen in the header (the server's default
// account when every account is chosen).

const CreateWebhook = graphql(`
  mutation CreateWebhook($input: CreateWebhookInput!) {
    createWebhook(input: $input) {
      id
      name
      generatedHmacSecret
      signingPublicKey
    }
  }
`);

export function NewWebhook() {
  const catalog = useCatalog();
  const readOnly = useReadOnlyReason();
  const { id: accountId, account } = useAccount();
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [bearer, setBearer] = useState('');
  const [generateHmac, setGenerateHmac] = useState(true);
  const [generateSigningKey, setGenerateSigningKey] = useState(false);
  const [ordering, setOrdering] = useState<DeliveryOrdering>('NONE');
  const [selection, setSelection] = useState<Selection>({});
  const [headers, setHeaders] = useState<HeaderRow[]>([]);
  const [localErrors, setLocalErrors] = useState<Record<string, string>>({});
  const [sent, setSent] = useState<string[]>([]);
  const [created, setCreated] = useState<{
    id: string;
    name: string;
    secret: string | null;
    publicKey: string | null;
  } | null>(null);
  const [result, create] = useMutation(CreateWebhook);

  if (created) {
    return (
      <main className="page">
        <h1>Webhook “{created.name}” created</h1>
        {created.secret && (
          <SecretOnce
            label="HMAC secret"
            value={created.secret}
            onDone={() => setCreated({ ...created, secret: null })}
          />
        )}
        {created.publicKey && (
          <p>
            ED25519 public key (safe to share): <code>{created.publicKey}</code>
          </p>
        )}
        <p>
          <a href={href(['webhooks', created.id])}>Open the webhook</a>
        </p>
      </main>
    );
  }

  const { byField, other } = fieldErrors(result.error, 'input.');
  const filterErrors = { ...subscriptionErrors(byField, 'subscriptions', sent), ...localErrors };
  const submit = async () => {
    const types = Object.keys(selection);
    const { inputs, errors } = toInputs(types, selection);
    setLocalErrors(errors);
    if (Object.keys(errors).length) return;
    setSent(types);
    const res = await create({
      input: {
        name,
        destinationUrl: url,
        ...(bearer ? { bearerToken: bearer } : {}),
        generateHmacSecret: generateHmac,
        generateSigningKey,
        ordering,
        subscriptions: inputs,
        ...(headers.length ? { headers: inputsOf(headers) } : {}),
        ...(accountId ? { accountId } : {}),
      },
    });
    const w = res.data?.createWebhook;
    if (w)
      setCreated({
        id: w.id,
        name: w.name,
        secret: w.generatedHmacSecret ?? null,
        publicKey: w.signingPublicKey ?? null,
      });
  };
  return (
    <main className="page">
      <h1>New webhook</h1>
      {readOnly && <p className="muted">{readOnly}</p>}
      <p role="note">
        {accountId
          ? `In the account ${account ? accountLabel(account) : accountId}.`
          : 'In the default account: choose another in the header first.'}
      </p>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Field label="Name" error={byField.name}>
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </Field>
        <Field label="Destination URL" error={byField.destinationUrl}>
          <input value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://" required />
        </Field>
        <Field label="Bearer token (optional)" error={byField.bearerToken}>
          <input type="password" autoComplete="off" value={bearer} onChange={(e) => setBearer(e.target.value)} />
        </Field>
        <label className="inline">
          <input
            type="checkbox"
            checked={generateHmac}
            disabled={readOnly !== null}
            onChange={(e) => setGenerateHmac(e.target.checked)}
          />
          Generate an HMAC secret (Standard Webhooks, shown once)
        </label>
        <label className="inline">
          <input
            type="checkbox"
            checked={generateSigningKey}
            disabled={readOnly !== null}
            onChange={(e) => setGenerateSigningKey(e.target.checked)}
          />
          Also sign with an ED25519 key
        </label>
        <Field label="Ordering" error={byField.ordering}>
          <OrderingSelect value={ordering} onChange={setOrdering} />
        </Field>
        <HeaderRows rows={headers} onChange={setHeaders} errors={byField} />
        {catalog && (
          <SubscriptionGrid catalog={catalog} value={selection} onChange={setSelection} errors={filterErrors} />
        )}
        <ErrorLine error={other ?? byField.subscriptions} />
        <WriteButton type="submit" disabled={result.fetching}>
          Create webhook
        </WriteButton>
      </form>
    </main>
  );
}
