import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from 'urql';

// urql rather than Apollo Client: a tenth of the size, and its document cache
// (a result is refetched when a mutation touches its types) fits a console
// whose screens are lists that change under it; nothing here needs a
// normalized cache. Subscriptions go over the official graphql-ws client, on
// the same origin and path as the API.

export const GRAPHQL_PATH = '/graphql';

export interface Connection {
  client: Client;
  ws: WsClient;
}

export type LinkState = 'connecting' | 'connected' | 'closed';

export function connect(token: string, onLink: (state: LinkState, code?: number, reason?: string) => void): Connection {
  const wsUrl = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${GRAPHQL_PATH}`;
  const ws = createWsClient({
    url: wsUrl,
    connectionParams: { authorization: `Bearer ${token}` },
    // Connected from the start, so the header's link state says whether live updates can arrive.
    lazy: false,
    // Reconnects by itself (graphql-ws backs off between attempts); 4403 (key refused) is final.
    retryAttempts: Infinity,
    shouldRetry: (e) => !(e instanceof CloseEvent) || e.code !== 4403,
    on: {
      connecting: () => onLink('connecting'),
      connected: () => onLink('connected'),
      closed: (e) => {
        const ev = e as CloseEvent;
        onLink('closed', ev.code, ev.reason);
      },
    },
  });
  const client = new Client({
    url: GRAPHQL_PATH,
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
        }),
      }),
    ],
    fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
    requestPolicy: 'cache-and-network',
    // POST only: a GET without a JSON content type is refused by the server's CSRF prevention.
    preferGetMethod: false,
  });
  return { client, ws };
}
