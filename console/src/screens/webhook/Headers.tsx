import { useState } from 'react';
import { useMutation } from 'urql';
import { useReadOnlyReason } from '../../auth';
import { graphql } from '../../gql';
import type { HeaderInput } from '../../gql/graphql';
import { fieldErrors } from '../../fields';
import { ErrorLine, WriteButton } from '../../ui';
import type { WebhookView } from './Settings';

// Custom headers sent with every delivery (at most 10). A stored secret's value
// never comes back from the API: its row shows "••• (secret)" and sends an
// empty value, which keeps the stored one, unless a new value is typed.

export const MAX_HEADERS = 10;
export const SECRET_SHOWN = '••• (secret)';

export interface HeaderRow {
  name: string;
  value: string;
  secret: boolean;
  /** A secret the server holds: an empty value keeps it. */
  stored: boolean;
}

export const rowsOf = (headers: readonly { name: string; value?: string | null; secret: boolean }[]): HeaderRow[] =>
  headers.map((h) => ({ name: h.name, value: h.value ?? '', secret: h.secret, stored: h.secret }));

export const inputsOf = (rows: readonly HeaderRow[]): HeaderInput[] =>
  rows.map((r) => ({ name: r.name.trim(), value: r.value, secret: r.secret }));

/** The editor's rows; `errors`: the API's messages by field below the list ("headers[1].name"). */
export function HeaderRows({
  rows,
  onChange,
  errors,
}: {
  rows: HeaderRow[];
  onChange: (rows: HeaderRow[]) => void;
  errors: Record<string, string>;
}) {
  const readOnly = useReadOnlyReason();
  const set = (i: number, change: Partial<HeaderRow>) =>
    onChange(rows.map((r, j) => (j === i ? { ...r, ...change } : r)));
  return (
    <fieldset className="headers">
      <legend>Custom headers</legend>
      {rows.length === 0 && <p className="muted">None: only the contract&apos;s own headers are sent.</p>}
      {rows.map((r, i) => {
        const message = errors[`headers[${i}].name`] ?? errors[`headers[${i}].value`];
        return (
          <div className="row" key={i} role="group" aria-label={`Header ${i + 1}`}>
            <label>
              Name
              <input
                aria-label={`Header ${i + 1} name`}
                value={r.name}
                placeholder="X-Api-Key"
                onChange={(e) => set(i, { name: e.target.value })}
              />
            </label>
            <label>
              Value
              <input
                aria-label={`Header ${i + 1} value`}
                type={r.secret ? 'password' : 'text'}
                autoComplete="off"
                value={r.value}
                placeholder={r.stored && r.secret ? SECRET_SHOWN : ''}
                onChange={(e) => set(i, { value: e.target.value })}
              />
            </label>
            <label className="inline">
              <input
                type="checkbox"
                aria-label={`Header ${i + 1} secret`}
                checked={r.secret}
                disabled={readOnly !== null}
                onChange={(e) => set(i, { secret: e.target.checked })}
              />
              Secret
            </label>
            <WriteButton onClick={() => onChange(rows.filter((_, j) => j !== i))}>Remove header {i + 1}</WriteButton>
            {message && (
              <span className="error" role="alert">
                {message}
              </span>
            )}
          </div>
        );
      })}
      <WriteButton
        disabled={rows.length >= MAX_HEADERS}
        onClick={() => onChange([...rows, { name: '', value: '', secret: false, stored: false }])}
      >
        Add header
      </WriteButton>
      {errors.headers && (
        <span className="error" role="alert">
          {errors.headers}
        </span>
      )}
    </fieldset>
  );
}

const SetHeaders = graphql(`
  mutation SetWebhookHeaders($id: ID!, $input: UpdateWebhookInput!) {
    updateWebhook(id: $id, input: $input) {
      id
      updatedAt
      headers {
        name
        value
        secret
      }
    }
  }
`);

/** The headers of an existing webhook, saved on their own: the whole list replaces the stored one. */
export function Headers({ webhook }: { webhook: WebhookView }) {
  const [rows, setRows] = useState<HeaderRow[]>(() => rowsOf(webhook.headers));
  const [saved, setSaved] = useState(false);
  const [result, update] = useMutation(SetHeaders);
  const { byField, other } = fieldErrors(result.error, 'input.');
  return (
    <section className="card" aria-label="Headers">
      <h2>Headers</h2>
      <form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          setSaved(false);
          void update({ id: webhook.id, input: { headers: inputsOf(rows) } }).then((r) => {
            const stored = r.data?.updateWebhook.headers;
            if (!stored) return;
            setRows(rowsOf(stored));
            setSaved(true);
          });
        }}
      >
        <HeaderRows
          rows={rows}
          onChange={(next) => {
            setSaved(false);
            setRows(next);
          }}
          errors={byField}
        />
        <ErrorLine error={other} />
        <div className="row">
          <WriteButton type="submit" disabled={result.fetching}>
            Save headers
          </WriteButton>
          {saved && <span role="status">Headers saved.</span>}
        </div>
      </form>
    </section>
  );
}
