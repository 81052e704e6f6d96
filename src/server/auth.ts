import { createLoaders, type Context } from '../graphql/context.js';
import type { Services } from '../services/index.js';
import { scopeOf } from '../domain/accounts.js';

// Who is asking: the API key named by an `Authorization: Bearer …` header (HTTP)
// or connection parameter (WebSocket), turned into the request's context. One
// place for both transports and the worker's /metrics door.

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

export async function contextFor(services: Services, authorization: string | undefined): Promise<Context> {
  const token = bearerToken(authorization);
  const auth = token ? await services.apiKeys.authenticate(token) : null;
  const apiKey = auth && 'key' in auth ? auth.key : null;
  const scope = scopeOf(apiKey);
  const context: Context = { apiKey, scope, services, loaders: createLoaders(services, scope) };
  if (auth && 'refused' in auth) context.authFailure = auth.refused;
  return context;
}
