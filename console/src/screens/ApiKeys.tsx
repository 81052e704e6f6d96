import { useMemo, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { accountLabel, useAccount } from '../account';
import { graphql } from '../gql';
import type { ApiKeyRole } from '../gql/graphql';
import { fieldErrors } from '../fields';
import { ErrorLine, Field, fromLocalInput, SecretOnce, When, WriteButton } from '../ui';

// Keys for people and services: which are used, which expire; a new key's
// token is shown once, a revoked key stops working at once (HTTP and open
// WebSockets alike). A new key is scoped to the account chosen in the header;
// with every account chosen it sees every account.

const KeysQuery = graphql(`
  query ApiKeys($accountId: ID) {
    apiKeys(accountId: $accountId) {
      id
      name
      role
      createdAt
      lastUsedAt
      expiresAt
      revokedAt
      account {
        id
        key
        name
      }
    }
  }
`);

const CreateKey = graphql(`
  mutation CreateApiKey($name: String!, $role: ApiKeyRole!, $expiresAt: DateTimeISO, $accountId: ID) {
    createApiKey(name: $name, role: $role, expiresAt: $expiresAt, accountId: $accountId) {
      token
      apiKey {
        id
        name
        role
        createdAt
        expiresAt
        account {
          id
          key
          name
        }
      }
    }
  }
`);

const RevokeKey = graphql(`
  mutation RevokeApiKey($id: ID!) {
    revokeApiKey(id: $id) {
      id
      revokedAt
    }
  }
`);

export function ApiKeys() {
  const { id: accountId, account } = useAccount();
  // An account without keys answers an empty list, which names no ApiKey type:
  // named here, so a key created on this screen refetches the list.
  const context = useMemo(() => ({ additionalTypenames: ['ApiKey'] }), []);
  const [{ data, error }] = useQuery({ query: KeysQuery, variables: { accountId }, context });
  const [name, setName] = useState('');
  const [role, setRole] = useState<ApiKeyRole>('VIEWER');
  const [expires, setExpires] = useState('');
  const [token, setToken] = useState<{ name: string; token: string } | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [createResult, create] = useMutation(CreateKey);
  const [revokeResult, revoke] = useMutation(RevokeKey);
  const { byField, other } = fieldErrors(createResult.error);
  return (
    <main className="page">
      <h1>API keys</h1>
      <ErrorLine error={error} />
      {token && <SecretOnce label={`Token of “${token.name}”`} value={token.token} onDone={() => setToken(null)} />}
      <form
        className="toolbar"
        aria-label="New API key"
        onSubmit={(e) => {
          e.preventDefault();
          void create({ name, role, expiresAt: fromLocalInput(expires), accountId }).then((r) => {
            const created = r.data?.createApiKey;
            if (!created) return;
            setToken({ name: created.apiKey.name, token: created.token });
            setName('');
            setExpires('');
          });
        }}
      >
        <Field label="Key name" error={byField.name}>
          <input value={name} onChange={(e) => setName(e.target.value)} required />
        </Field>
        <Field label="Role" error={byField.role}>
          <select value={role} onChange={(e) => setRole(e.target.value as ApiKeyRole)}>
            <option value="VIEWER">VIEWER: reads everything, changes nothing</option>
            <option value="SUPPORT">SUPPORT: configures webhooks and keys</option>
            <option value="PUBLISHER">PUBLISHER: publishes events</option>
          </select>
        </Field>
        <Field label="Expires (optional)" error={byField.expiresAt}>
          <input type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} />
        </Field>
        <WriteButton type="submit" disabled={!name || createResult.fetching}>
          Create key
        </WriteButton>
        <span className="muted" role="note">
          {accountId
            ? `Sees only the account ${account ? accountLabel(account) : accountId}`
            : 'Sees every account (choose one in the header to scope the key)'}
        </span>
      </form>
      <ErrorLine error={other} />
      <table aria-label="Keys">
        <thead>
          <tr>
            <th>Name</th>
            <th>Role</th>
            <th>Account</th>
            <th>Created</th>
            <th>Last used</th>
            <th>Expires</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {data?.apiKeys.map((k) => (
            <tr key={k.id} className={k.revokedAt ? 'revoked' : undefined}>
              <td>{k.name}</td>
              <td>{k.role}</td>
              <td>{k.account ? accountLabel(k.account) : <span className="muted">every account</span>}</td>
              <td>
                <When at={k.createdAt} />
              </td>
              <td>
                <When at={k.lastUsedAt} />
              </td>
              <td>
                <When at={k.expiresAt} />
              </td>
              <td>
                {k.revokedAt ? (
                  <span>
                    revoked <When at={k.revokedAt} />
                  </span>
                ) : confirming === k.id ? (
                  <span className="row">
                    <WriteButton danger onClick={() => void revoke({ id: k.id }).then(() => setConfirming(null))}>
                      Confirm: revoke {k.name}
                    </WriteButton>
                    <button type="button" onClick={() => setConfirming(null)}>
                      Keep it
                    </button>
                  </span>
                ) : (
                  <WriteButton onClick={() => setConfirming(k.id)}>Revoke</WriteButton>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <ErrorLine error={revokeResult.error} />
    </main>
  );
}
