import { useState } from 'react';
import { useMutation } from 'urql';
import { graphql } from '../../gql';
import type { SignatureScheme } from '../../gql/graphql';
import { CopyButton, ErrorLine, SecretOnce, When, WriteButton } from '../../ui';
import type { WebhookView } from './Settings';

// Secrets are write-only: the page says whether one is set, never what it is.
// A rotation keeps the previous secret or key signing for the overlap chosen,
// so receivers switch without a failed delivery; the new secret is shown once.

const SetBearer = graphql(`
  mutation SetBearerToken($id: ID!, $input: UpdateWebhookInput!) {
    updateWebhook(id: $id, input: $input) {
      id
      hasBearerToken
      hasHmacSecret
      previousSecretExpiresAt
    }
  }
`);

const Rotate = graphql(`
  mutation RotateSecret($id: ID!, $scheme: SignatureScheme!, $overlap: Int) {
    rotateWebhookSecret(webhookId: $id, scheme: $scheme, overlapSeconds: $overlap) {
      secret
      publicKey
      previousSecretExpiresAt
      webhook {
        id
        hasHmacSecret
        signingPublicKey
        previousSecretExpiresAt
      }
    }
  }
`);

const OVERLAPS: [number, string][] = [
  [0, 'none: the old one stops at once'],
  [3600, '1 hour'],
  [86400, '24 hours'],
  [604800, '7 days'],
];

export function Secrets({ webhook: w }: { webhook: WebhookView }) {
  const [bearer, setBearer] = useState('');
  const [overlap, setOverlap] = useState(86400);
  const [shown, setShown] = useState<string | null>(null);
  const [setResult, update] = useMutation(SetBearer);
  const [rotateResult, rotate] = useMutation(Rotate);

  const doRotate = (scheme: SignatureScheme) =>
    void rotate({ id: w.id, scheme, overlap }).then((r) => setShown(r.data?.rotateWebhookSecret.secret ?? null));

  return (
    <section className="card" aria-label="Secrets">
      <h2>Secrets</h2>
      <div className="secret">
        <h3>Bearer token</h3>
        <p>{w.hasBearerToken ? 'Set: sent as Authorization: Bearer …' : 'Not set'}</p>
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            void update({ id: w.id, input: { bearerToken: bearer } }).then((r) => !r.error && setBearer(''));
          }}
        >
          <label>
            {w.hasBearerToken ? 'New bearer token' : 'Bearer token'}
            <input type="password" autoComplete="off" value={bearer} onChange={(e) => setBearer(e.target.value)} />
          </label>
          <WriteButton type="submit" disabled={!bearer || setResult.fetching}>
            {w.hasBearerToken ? 'Replace token' : 'Set token'}
          </WriteButton>
          {w.hasBearerToken && (
            <WriteButton danger onClick={() => void update({ id: w.id, input: { clearBearerToken: true } })}>
              Clear token
            </WriteButton>
          )}
        </form>
        <ErrorLine error={setResult.error} />
      </div>

      <label className="overlap">
        Overlap when rotating
        <select value={overlap} onChange={(e) => setOverlap(Number(e.target.value))}>
          {OVERLAPS.map(([s, text]) => (
            <option key={s} value={s}>
              {text}
            </option>
          ))}
        </select>
      </label>
      {w.previousSecretExpiresAt && (
        <p>
          The previous secret or key also signs until <When at={w.previousSecretExpiresAt} />.
        </p>
      )}

      <div className="secret">
        <h3>HMAC secret</h3>
        <p>{w.hasHmacSecret ? 'Set (webhook-signature v1)' : 'Not set: deliveries carry no HMAC signature'}</p>
        {shown && <SecretOnce label="New HMAC secret" value={shown} onDone={() => setShown(null)} />}
        <div className="row">
          <WriteButton disabled={rotateResult.fetching} onClick={() => doRotate('HMAC_SHA256')}>
            {w.hasHmacSecret ? 'Rotate HMAC secret' : 'Generate HMAC secret'}
          </WriteButton>
          {w.hasHmacSecret && (
            <WriteButton danger onClick={() => void update({ id: w.id, input: { clearHmacSecret: true } })}>
              Clear HMAC secret
            </WriteButton>
          )}
        </div>
      </div>

      <div className="secret">
        <h3>ED25519 signing key</h3>
        {w.signingPublicKey ? (
          <p>
            Public key (webhook-signature v1a; safe to share): <code>{w.signingPublicKey}</code>{' '}
            <CopyButton text={w.signingPublicKey} label="Copy public key" />
          </p>
        ) : (
          <p>Not set</p>
        )}
        <WriteButton disabled={rotateResult.fetching} onClick={() => doRotate('ED25519')}>
          {w.signingPublicKey ? 'Rotate signing key' : 'Generate signing key'}
        </WriteButton>
      </div>
      <ErrorLine error={rotateResult.error} />
    </section>
  );
}
