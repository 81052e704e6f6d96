import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { useQuery } from 'urql';
import type { AccountRef, Viewer } from './auth';
import { graphql } from './gql';
import { storeAccount, storedAccount } from './session';

// The account the console looks at. A scoped key has its own and no other; an
// unscoped key picks one in the header, or every account. The lists, the live
// feed and the creates all pass that choice as accountId.

const ChosenAccount = graphql(`
  query ChosenAccount($id: ID!) {
    account(id: $id) {
      id
      key
      name
    }
  }
`);

export interface AccountChoice {
  /** The accountId to pass; null: every account (unscoped keys only). */
  id: string | null;
  /** The chosen account, once read (null while loading, and for every account). */
  account: AccountRef | null;
  /** Changes the choice; null for a scoped key, which cannot name another account. */
  choose: ((id: string | null) => void) | null;
}

const AccountContext = createContext<AccountChoice>({ id: null, account: null, choose: null });

export function useAccount(): AccountChoice {
  return useContext(AccountContext);
}

export function AccountProvider({ viewer, children }: { viewer: Viewer; children: ReactNode }) {
  const [chosen, setChosen] = useState(storedAccount);
  const choose = useCallback((id: string | null) => {
    storeAccount(id);
    setChosen(id);
  }, []);
  const [{ data, operation }] = useQuery({
    query: ChosenAccount,
    variables: { id: chosen ?? '' },
    pause: !!viewer.account || !chosen,
  });
  const read = operation?.variables.id === chosen ? data : undefined;
  // Deleted meanwhile (here or elsewhere), or invisible to this key: back to every account.
  const gone = !!chosen && read !== undefined && read.account === null;
  useEffect(() => {
    if (gone) choose(null);
  }, [gone, choose]);
  const value: AccountChoice = viewer.account
    ? { id: viewer.account.id, account: viewer.account, choose: null }
    : { id: chosen, account: read?.account ?? null, choose };
  return <AccountContext.Provider value={value}>{children}</AccountContext.Provider>;
}

/** An account as people name it: its name, and the key publishers use. */
export function accountLabel(a: AccountRef): string {
  return `${a.name} (${a.key})`;
}
