import { createContext, useContext } from 'react';

// Who is signed in, for every screen: VIEWER keys see everything read-only,
// with the reason on each disabled action; SUPPORT keys may change things.
// A key scoped to an account sees and changes that account only.

export interface AccountRef {
  id: string;
  key: string;
  name: string;
}

export interface Viewer {
  id: string;
  name: string;
  role: 'SUPPORT' | 'VIEWER' | 'PUBLISHER';
  /** The only account the key sees; null: every account. */
  account: AccountRef | null;
}

export const ViewerContext = createContext<Viewer | null>(null);

export function useViewer(): Viewer {
  const v = useContext(ViewerContext);
  if (!v) throw new Error('useViewer outside a signed-in console');
  return v;
}

/** Why the viewer may not change things, or null when they may (used as a disabled button's title). */
export function useReadOnlyReason(): string | null {
  const v = useViewer();
  return v.role === 'SUPPORT'
    ? null
    : `Read-only: the ${v.role} key "${v.name}" can view, not change. Sign in with a SUPPORT key.`;
}
