import { createContext, useContext } from 'react';
import type { LinkState } from './client';

// The live link's state (the graphql-ws connection), for the header and the
// Live screen: whether attempts can arrive, and why the server last closed it.

export interface Link {
  state: LinkState;
  code?: number;
  reason?: string;
  /** The last close that was not ordinary: shown after the reconnect too, since attempts may have been missed. */
  lastClose?: { code: number; at: string };
}

export const LinkContext = createContext<Link>({ state: 'connecting' });

export function useLink(): Link {
  return useContext(LinkContext);
}

/** What a close code means for the person watching, or null for an ordinary close. */
export function closeExplained(code: number | undefined): string | null {
  switch (code) {
    case 4408:
      return 'The server closed the live feed because this page fell behind (4408: too slow to keep up).';
    case 4403:
      return 'The server refused this key on the live feed (4403): it was revoked or has expired. Sign in again.';
    case undefined:
    case 1000:
      return null;
    default:
      return `The live feed closed (${code}).`;
  }
}
