import { useEffect, useState } from 'react';

// Hash routes (#/webhooks/<id>): the server serves one page at /console, and a
// reload or a shared link lands on the same screen. Never carries a secret.

export interface Route {
  path: string[];
  query: URLSearchParams;
}

function current(): Route {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  return {
    path: (path ?? '').split('/').filter(Boolean).map(decodeURIComponent),
    query: new URLSearchParams(query ?? ''),
  };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const on = () => setRoute(current());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function href(path: string[], query: Record<string, string | null | undefined> = {}): string {
  const q = new URLSearchParams(Object.entries(query).filter((e): e is [string, string] => !!e[1]));
  const qs = q.toString();
  return `#/${path.map(encodeURIComponent).join('/')}${qs ? `?${qs}` : ''}`;
}

export function go(path: string[], query: Record<string, string | null | undefined> = {}): void {
  location.hash = href(path, query);
}
