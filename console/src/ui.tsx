import { useState, type ReactNode } from 'react';
import type { CombinedError } from 'urql';
import { useReadOnlyReason } from './auth';

// Small shared pieces: errors as the API words them, write buttons that say
// why they are disabled, copy-to-clipboard, dates.

/** The API's own message (it names the field at fault and what was expected); never a stack. */
export function errorText(e: CombinedError | undefined | null): string | null {
  if (!e) return null;
  if (e.graphQLErrors.length) return e.graphQLErrors.map((g) => g.message).join('; ');
  return e.networkError ? `Network error: ${e.networkError.message}` : e.message;
}

export function ErrorLine({ error }: { error: CombinedError | string | undefined | null }) {
  const text = typeof error === 'string' ? error : errorText(error);
  return text ? (
    <p className="error" role="alert">
      {text}
    </p>
  ) : null;
}

/** A button for a change: disabled, with the reason as its title, for a read-only key. */
export function WriteButton(props: {
  onClick: () => void;
  children: ReactNode;
  disabled?: boolean;
  danger?: boolean;
  type?: 'button' | 'submit';
}) {
  const reason = useReadOnlyReason();
  return (
    <button
      type={props.type ?? 'button'}
      className={props.danger ? 'danger' : undefined}
      disabled={reason !== null || props.disabled}
      title={reason ?? undefined}
      onClick={props.onClick}
    >
      {props.children}
    </button>
  );
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      onClick={() => {
        void navigator.clipboard?.writeText(text).then(() => setDone(true));
      }}
    >
      {done ? 'Copied' : label}
    </button>
  );
}

export function When({ at }: { at: string | null | undefined }) {
  if (!at) return <span className="muted">—</span>;
  const d = new Date(at);
  return (
    <time dateTime={at} title={d.toISOString()}>
      {d.toLocaleString()}
    </time>
  );
}
