import { useQuery } from 'urql';
import { useReadOnlyReason } from '../../auth';
import { graphql } from '../../gql';
import { ACTIONS, type CatalogRow, type Selection } from './grid-model';

// Resources × actions, one checkbox per pair the catalog has (its accessible
// name is the event type), and for each chosen pair an optional payload filter
// with the server's message about it shown right there.

const CatalogQuery = graphql(`
  query Catalog {
    resources {
      type
      name
      actions
      eventTypes
      payloadFormat
    }
  }
`);

/** The catalog of resources and their actions (it never changes while the server runs). */
export function useCatalog(): CatalogRow[] | null {
  const [{ data }] = useQuery({ query: CatalogQuery, requestPolicy: 'cache-first' });
  return data?.resources ?? null;
}

export function SubscriptionGrid({
  catalog,
  value,
  onChange,
  errors,
}: {
  catalog: readonly CatalogRow[];
  value: Selection;
  onChange: (next: Selection) => void;
  errors: Record<string, string>;
}) {
  const readOnly = useReadOnlyReason();
  const toggle = (row: CatalogRow, i: number) => {
    const type = row.eventTypes[i]!;
    const next = { ...value };
    if (next[type]) delete next[type];
    else next[type] = { resource: row.type, action: row.actions[i]!, filter: '' };
    onChange(next);
  };
  const chosen = catalog.flatMap((row) => row.eventTypes.filter((t) => value[t]));
  return (
    <fieldset className="grid">
      <legend>Subscriptions</legend>
      <table>
        <thead>
          <tr>
            <th>Resource</th>
            {ACTIONS.map((a) => (
              <th key={a}>{a.toLowerCase()}</th>
            ))}
            <th>Payload</th>
          </tr>
        </thead>
        <tbody>
          {catalog.map((row) => (
            <tr key={row.type}>
              <th scope="row">{row.name}</th>
              {ACTIONS.map((a) => {
                const i = row.actions.indexOf(a);
                if (i < 0) return <td key={a} className="muted" />;
                const type = row.eventTypes[i]!;
                return (
                  <td key={a}>
                    <input
                      type="checkbox"
                      aria-label={type}
                      title={readOnly ?? type}
                      checked={!!value[type]}
                      disabled={readOnly !== null}
                      onChange={() => toggle(row, i)}
                    />
                  </td>
                );
              })}
              <td className="muted">{row.payloadFormat}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {chosen.length > 0 && (
        <div className="filters">
          <p className="muted">
            Filters (optional): a JSON object on the payload, e.g. {'{"state": "complete"}'} or{' '}
            {'{"course_id": {"$in": ["c1", "c2"]}}'}. Empty: every event of the type.
          </p>
          {chosen.map((type) => (
            <label key={type}>
              Filter for {type}
              <textarea
                rows={1}
                value={value[type]!.filter}
                readOnly={readOnly !== null}
                aria-invalid={errors[type] ? true : undefined}
                placeholder="every event"
                onChange={(e) => onChange({ ...value, [type]: { ...value[type]!, filter: e.target.value } })}
              />
              {errors[type] && (
                <span className="error" role="alert">
                  {errors[type]}
                </span>
              )}
            </label>
          ))}
        </div>
      )}
    </fieldset>
  );
}
