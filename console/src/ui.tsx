import { useState, type ReactNode } from 'react';
import type { CombinedError } from 'urql';
import { useReadOnlyReason } from './auth';
import { href } from './router';

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
  onClick?: () => void;
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

/** A secret the API returns once: shown with a copy button and a warning, never stored. */
export function SecretOnce({ label, value, onDone }: { label: string; value: string; onDone: () => void }) {
  return (
    <div className="once" role="status">
      <strong>{label}</strong>
      <code aria-label={label}>{value}</code>
      <CopyButton text={value} />
      <p className="warning">
        Copy it now and store it with the receiver: it is shown only this once and cannot be read back.
      </p>
      <button type="button" onClick={onDone}>
        I have stored it
      </button>
    </div>
  );
}

/** A date as a datetime-local input shows it (local time, minutes). */
export function localInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local input's value as an ISO instant, or null when empty. */
export function fromLocalInput(s: string): string | null {
  return s ? new Date(s).toISOString() : null;
}

/** A labelled input with the API's message about it, if any, right below. */
export function Field({ label, error, children }: { label: string; error?: string | undefined; children: ReactNode }) {
  return (
    <label>
      {label}
      {children}
      {error && (
        <span className="error" role="alert">
          {error}
        </span>
      )}
    </label>
  );
}

/** Ordering, with what each choice costs. */
export function OrderingSelect({ value, onChange }: { value: string; onChange: (v: 'NONE' | 'PER_OBJECT') => void }) {
  return (
    <select value={value} onChange={(e) => onChange(e.target.value as 'NONE' | 'PER_OBJECT')}>
      <option value="NONE">NONE: fastest, any order</option>
      <option value="PER_OBJECT">PER_OBJECT: events about one object in publish order</option>
    </select>
  );
}

/** First page / next page links of a keyset-paged list; the filters stay in the URL. */
export function Pager({
  path,
  filters,
  after,
  pageInfo,
}: {
  path: string[];
  filters: Record<string, string | null>;
  after: string | null;
  pageInfo: { hasNextPage: boolean; endCursor?: string | null } | undefined;
}) {
  return (
    <div className="pager">
      {after && <a href={href(path, filters)}>First page</a>}
      {pageInfo?.hasNextPage && <a href={href(path, { ...filters, after: pageInfo.endCursor })}>Next page</a>}
    </div>
  );
}
