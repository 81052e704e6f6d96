import { useState } from 'react';
import { useQuery } from 'urql';
import { accountLabel, useAccount } from './account';
import { graphql } from './gql';

// The header's account choice, for unscoped keys: the first 100 accounts, or
// those whose key or name matches what was typed (Enter searches), plus the
// chosen one if it is not among them.

const AccountChoices = graphql(`
  query AccountChoices($search: String) {
    accounts(search: $search, first: 100) {
      edges {
        node {
          id
          key
          name
        }
      }
    }
  }
`);

export function AccountPicker() {
  const { id, account, choose } = useAccount();
  const [text, setText] = useState('');
  const [search, setSearch] = useState<string | null>(null);
  const [{ data }] = useQuery({ query: AccountChoices, variables: { search }, pause: !choose });
  if (!choose) return null;
  const found = data?.accounts.edges.map((e) => e.node) ?? [];
  return (
    <form
      className="picker"
      role="search"
      aria-label="Accounts"
      onSubmit={(e) => {
        e.preventDefault();
        setSearch(text.trim() || null);
      }}
    >
      <input
        aria-label="Find account"
        value={text}
        onChange={(e) => setText(e.target.value)}
        placeholder="key or name, Enter"
      />
      <select aria-label="Account" value={id ?? ''} onChange={(e) => choose(e.target.value || null)}>
        <option value="">All accounts</option>
        {id && !found.some((a) => a.id === id) && <option value={id}>{account ? accountLabel(account) : id}</option>}
        {found.map((a) => (
          <option key={a.id} value={a.id}>
            {accountLabel(a)}
          </option>
        ))}
      </select>
    </form>
  );
}
