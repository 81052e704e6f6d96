// The API key lives in sessionStorage only (gone with the tab), never in the
// URL, localStorage or a log line; it is sent as the Authorization header and
// as graphql-ws connectionParams.

const KEY = 'hookline.apiKey';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeKey(token: string): void {
  sessionStorage.setItem(KEY, token);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY);
}
