import { useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { useAccount } from '../account';
import { graphql } from '../gql';
import type { AccountListQuery } from '../gql/graphql';
import { fieldErrors } from '../fields';
import { go, type Route } from '../router';
import { ErrorLine, Field, Pager, When, WriteButton } from '../ui';

// The platform's customers, for unscoped keys: each has its own webhooks,
// events and keys. An account is deleted with everything in it, so the key
// must be typed to confirm; the default account (where events without an
// account go) stays.

const AccountsQuery = graphql(`
  query AccountList($search: String, $first: Int, $after: String) {
    accounts(search: $search, first: $first, after: $after) {
      totalCount
      pageInfo {
        hasNextPage
        endCursor
      }
      edges {
        node {
          id
          key
          name
          createdAt
          updatedAt
        }
      }
    }
  }
`);

const CreateAccount = graphql(`
  mutation CreateAccount($input: CreateAccountInput!) {
    createAccount(input: $input) {
      id
      key
      name
      createdAt
      updatedAt
    }
  }
`);

const RenameAccount = graphql(`
  mutation RenameAccount($id: ID!, $input: UpdateAccountInput!) {
    updateAccount(id: $id, input: $input) {
      id
      name
      updatedAt
    }
  }
`);

const DeleteAccount = graphql(`
  mutation DeleteAccount($id: ID!, $confirmKey: String!) {
    deleteAccount(id: $id, confirmKey: $confirmKey)
  }
`);

type AccountRow = AccountListQuery['accounts']['edges'][number]['node'];

const DEFAULT_KEY = 'default';
const PAGE = 50;

export function Accounts({ route }: { route: Route }) {
  const search = route.query.get('q');
  const after = route.query.get('after');
  const [text, setText] = useState(search ?? '');
  const [{ data, error, fetching }] = useQuery({
    query: AccountsQuery,
    variables: { search, first: PAGE, after },
  });
  const page = data?.accounts;
  const filters = { q: search };
  return (
    <main className="page">
      <h1>Accounts</h1>
      <NewAccount />
      <form
        className="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          go(['accounts'], { q: text.trim() || null });
        }}
      >
        <label>
          Key or name
          <input value={text} onChange={(e) => setText(e.target.value)} placeholder="part of a key or name" />
        </label>
        <button type="submit">Search</button>
        {page && (
          <span className="muted">
            {page.totalCount} {page.totalCount === 1 ? 'account' : 'accounts'}
          </span>
        )}
      </form>
      <ErrorLine error={error} />
      <table aria-label="Accounts">
        <thead>
          <tr>
            <th>Key</th>
            <th>Name</th>
            <th>Created</th>
            <th>Updated</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {page?.edges.map(({ node: a }) => (
            <Row key={a.id} account={a} />
          ))}
        </tbody>
      </table>
      {fetching && !data && <p className="muted">Loading…</p>}
      {page && page.edges.length === 0 && <p className="muted">No account matches.</p>}
      <Pager path={['accounts']} filters={filters} after={after} pageInfo={page?.pageInfo} />
    </main>
  );
}

function NewAccount() {
  const [key, setKey] = useState('');
  const [name, setName] = useState('');
  const [result, create] = useMutation(CreateAccount);
  const { byField, other } = fieldErrors(result.error, 'input.');
  return (
    <form
      className="toolbar"
      aria-label="New account"
      onSubmit={(e) => {
        e.preventDefault();
        void create({ input: { key, name } }).then((r) => {
          if (!r.data?.createAccount) return;
          setKey('');
          setName('');
        });
      }}
    >
      <Field label="Account key" error={byField.key}>
        <input value={key} onChange={(e) => setKey(e.target.value)} placeholder="the platform's id, e.g. a domain id" />
      </Field>
      <Field label="Account name" error={byField.name}>
        <input value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <WriteButton type="submit" disabled={!key || !name || result.fetching}>
        Create account
      </WriteButton>
      <ErrorLine error={other} />
    </form>
  );
}

function Row({ account: a }: { account: AccountRow }) {
  const { choose } = useAccount();
  const [mode, setMode] = useState<'view' | 'rename' | 'delete'>('view');
  const [name, setName] = useState(a.name);
  const [typed, setTyped] = useState('');
  const [renameResult, rename] = useMutation(RenameAccount);
  const [deleteResult, remove] = useMutation(DeleteAccount);
  const { byField, other } = fieldErrors(renameResult.error, 'input.');
  const show = () => {
    choose?.(a.id);
    go(['webhooks']);
  };
  return (
    <tr>
      <td>
        <code>{a.key}</code>
      </td>
      <td>
        {mode === 'rename' ? (
          <form
            className="row"
            onSubmit={(e) => {
              e.preventDefault();
              void rename({ id: a.id, input: { name } }).then((r) => !r.error && setMode('view'));
            }}
          >
            <Field label={`New name of ${a.key}`} error={byField.name}>
              <input value={name} onChange={(e) => setName(e.target.value)} required />
            </Field>
            <WriteButton type="submit" disabled={!name || name === a.name || renameResult.fetching}>
              Save name
            </WriteButton>
            <button type="button" onClick={() => setMode('view')}>
              Cancel
            </button>
            <ErrorLine error={other} />
          </form>
        ) : (
          a.name
        )}
      </td>
      <td>
        <When at={a.createdAt} />
      </td>
      <td>
        <When at={a.updatedAt} />
      </td>
      <td>
        {mode === 'delete' ? (
          <div className="row">
            <label>
              Type {a.key} to delete it with its webhooks, events and keys
              <input value={typed} onChange={(e) => setTyped(e.target.value)} placeholder={a.key} />
            </label>
            <WriteButton
              danger
              disabled={typed !== a.key || deleteResult.fetching}
              // deleteAccount answers a Boolean: the lists that showed the account and what was in it are named here.
              onClick={() =>
                void remove(
                  { id: a.id, confirmKey: typed },
                  { additionalTypenames: ['Account', 'Webhook', 'Delivery', 'ApiKey', 'AuditEntry'] },
                )
              }
            >
              Delete account
            </WriteButton>
            <button type="button" onClick={() => setMode('view')}>
              Keep it
            </button>
            <ErrorLine error={deleteResult.error} />
          </div>
        ) : (
          <div className="row">
            <button type="button" onClick={show}>
              Show its webhooks
            </button>
            <WriteButton
              onClick={() => {
                setName(a.name);
                setMode('rename');
              }}
            >
              Rename
            </WriteButton>
            {a.key === DEFAULT_KEY ? (
              <span className="muted">The default account cannot be deleted.</span>
            ) : (
              <WriteButton
                onClick={() => {
                  setTyped('');
                  setMode('delete');
                }}
              >
                Delete
              </WriteButton>
            )}
          </div>
        )}
      </td>
    </tr>
  );
}
