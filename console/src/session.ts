// The API key lives in sessionStorage only (gone with the tab), never in the
// URL, localStorage or a log line; it is sent as the Authorization header and
// as graphql-ws connectionParams. The account chosen in the header (an id, no
// secret) is kept beside it, so a reload stays on it; both go at sign-out.

const KEY = 'hookline.apiKey';
const ACCOUNT = 'hookline.accountId';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function storedAccount(): string | null {
  return sessionStorage.getItem(ACCOUNT);
}

export function storeAccount(id: string | null): void {
  if (id) sessionStorage.setItem(ACCOUNT, id);
  else sessionStorage.removeItem(ACCOUNT);
}

export function forgetSession(): void {
  sessionStorage.removeItem(KEY);
  sessionStorage.removeItem(ACCOUNT);
}
