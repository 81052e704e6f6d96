import { useEffect, useMemo, useState } from 'react';
import { Provider, useQuery } from 'urql';
import { AccountProvider } from './account';
import { AccountPicker } from './AccountPicker';
import { ViewerContext, type Viewer } from './auth';
import { connect, type Connection } from './client';
import { closeExplained, LinkContext, type Link } from './link';
import { graphql } from './gql';
import { href, useRoute } from './router';
import { forgetSession, storeKey, storedKey } from './session';
import { SignIn } from './screens/SignIn';
import { Accounts } from './screens/Accounts';
import { ApiKeys } from './screens/ApiKeys';
import { AuditLog } from './screens/AuditLog';
import { Deliveries } from './screens/Deliveries';
import { Live } from './screens/Live';
import { Timeline } from './screens/Timeline';
import { Webhooks } from './screens/Webhooks';
import { NewWebhook } from './screens/webhook/NewWebhook';
import { WebhookPage } from './screens/webhook/WebhookPage';
import { ErrorLine } from './ui';

const ViewerQuery = graphql(`
  query Viewer {
    viewer {
      id
      name
      role
      account {
        id
        key
        name
      }
    }
  }
`);

export function App() {
  const [token, setToken] = useState(storedKey);
  const [link, setLink] = useState<Link>({ state: 'connecting' });
  const connection = useMemo<Connection | null>(
    () =>
      token
        ? connect(token, (state, code, reason) =>
            setLink((prev) => ({
              state,
              code,
              reason,
              lastClose:
                state === 'closed' && closeExplained(code)
                  ? { code: code!, at: new Date().toISOString() }
                  : prev.lastClose,
            })),
          )
        : null,
    [token],
  );
  useEffect(() => () => void connection?.ws.dispose(), [connection]);

  if (!token || !connection) {
    return (
      <SignIn
        onSignIn={(t) => {
          storeKey(t);
          setToken(t);
        }}
      />
    );
  }
  const signOut = () => {
    forgetSession();
    setToken(null);
  };
  return (
    <Provider value={connection.client}>
      <Shell link={link} onSignOut={signOut} />
    </Provider>
  );
}

function Shell({ link, onSignOut }: { link: Link; onSignOut: () => void }) {
  const [{ data, error, fetching }] = useQuery({ query: ViewerQuery });
  if (fetching && !data) return <p className="page">Signing in…</p>;
  if (error || !data) {
    return (
      <main className="page">
        <ErrorLine error={error} />
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </main>
    );
  }
  const viewer = data.viewer as Viewer;
  if (viewer.role === 'PUBLISHER') {
    return (
      <main className="page">
        <p role="alert">
          The key “{viewer.name}” is a PUBLISHER key: it publishes events. The console needs a VIEWER or SUPPORT key.
        </p>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </main>
    );
  }
  return (
    <ViewerContext.Provider value={viewer}>
      <AccountProvider viewer={viewer}>
        <LinkContext.Provider value={link}>
          <header className="top">
            <strong>Hookline</strong>
            <nav aria-label="Screens">
              <a href={href(['webhooks'])}>Webhooks</a>
              <a href={href(['deliveries'])}>Deliveries</a>
              <a href={href(['live'])}>Live</a>
              {viewer.role === 'SUPPORT' && <a href={href(['audit'])}>Audit log</a>}
              {viewer.role === 'SUPPORT' && <a href={href(['keys'])}>API keys</a>}
              {!viewer.account && <a href={href(['accounts'])}>Accounts</a>}
            </nav>
            {viewer.account ? (
              <span className="account" aria-label="Account">
                <span className="muted">Account</span>
                <strong>{viewer.account.name}</strong>
              </span>
            ) : (
              <AccountPicker />
            )}
            <span className="who" aria-label="Signed in as">
              {viewer.name} · {viewer.role}
            </span>
            <span className={`link link-${link.state}`} title={link.reason || undefined}>
              live: {link.state}
            </span>
            <button type="button" onClick={onSignOut}>
              Sign out
            </button>
          </header>
          <Screen scoped={!!viewer.account} />
        </LinkContext.Provider>
      </AccountProvider>
    </ViewerContext.Provider>
  );
}

function Screen({ scoped }: { scoped: boolean }) {
  const route = useRoute();
  switch (route.path[0] ?? 'webhooks') {
    case 'webhooks':
      if (route.path[1] === 'new') return <NewWebhook />;
      if (route.path[1]) return <WebhookPage key={route.path[1]} id={route.path[1]} />;
      return <Webhooks route={route} />;
    case 'deliveries':
      return route.path[1] ? <Timeline key={route.path[1]} id={route.path[1]} /> : <Deliveries route={route} />;
    case 'live':
      return <Live route={route} />;
    case 'audit':
      return <AuditLog route={route} />;
    case 'keys':
      return <ApiKeys />;
    case 'accounts':
      return scoped ? (
        <p className="page">This key sees one account only: there is no other to manage.</p>
      ) : (
        <Accounts route={route} />
      );
    default:
      return <p className="page">Nothing here: {route.path.join('/')}</p>;
  }
}
