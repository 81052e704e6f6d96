import { useState } from 'react';
import { useMutation } from 'urql';
import { graphql } from '../gql';
import type { ResourceType } from '../gql/graphql';
import { ErrorLine, WriteButton } from '../ui';
import type { CatalogRow } from './webhook/grid-model';

// The right to erasure from an object's deliveries: eraseObject counted first
// (a dry run), then done after a confirm that repeats the counts.

const Erase = graphql(`
  mutation EraseObject($resource: ResourceType!, $objectId: String!, $accountId: ID, $dryRun: Boolean) {
    eraseObject(resource: $resource, objectId: $objectId, accountId: $accountId, dryRun: $dryRun) {
      events
      deliveriesCancelled
      dryRun
    }
  }
`);

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function EraseObject({
  objectId,
  resource: given,
  catalog,
  accountId,
}: {
  objectId: string;
  resource: ResourceType | null;
  catalog: readonly CatalogRow[] | null;
  accountId: string | null;
}) {
  const [chosen, setChosen] = useState<ResourceType | null>(null);
  const resource = given ?? chosen;
  const [counted, setCounted] = useState<{ key: string; events: number; cancelled: number } | null>(null);
  const [done, setDone] = useState<{ events: number; cancelled: number } | null>(null);
  const [result, erase] = useMutation(Erase);
  const key = `${resource}/${objectId}/${accountId}`;
  const count = counted?.key === key ? counted : null;
  const run = (dryRun: boolean) =>
    resource &&
    void erase({ resource, objectId, accountId, dryRun }).then((r) => {
      const e = r.data?.eraseObject;
      if (!e) return;
      if (e.dryRun) setCounted({ key, events: e.events, cancelled: e.deliveriesCancelled });
      else {
        setCounted(null);
        setDone({ events: e.events, cancelled: e.deliveriesCancelled });
      }
    });
  return (
    <section className="erase" aria-label="Erase this object's data">
      <strong>Erase this object&apos;s data</strong>{' '}
      <span className="muted">
        Replaces the payload of every event about {objectId} by its id alone, removes its attempts&apos; response bodies
        and cancels its pending deliveries. It cannot be undone.
      </span>
      <div className="row">
        {!given && (
          <label>
            Resource
            <select value={chosen ?? ''} onChange={(e) => setChosen((e.target.value || null) as ResourceType | null)}>
              <option value="">choose</option>
              {catalog?.map((r) => (
                <option key={r.type} value={r.type}>
                  {r.type}
                </option>
              ))}
            </select>
          </label>
        )}
        <WriteButton disabled={!resource || result.fetching} onClick={() => run(true)}>
          Count what would be erased
        </WriteButton>
        {count && (
          <WriteButton danger disabled={result.fetching} onClick={() => run(false)}>
            Erase {plural(count.events, 'event')} of {resource} {objectId}
          </WriteButton>
        )}
      </div>
      {count && (
        <p role="status">
          {plural(count.events, 'event')} of {resource} {objectId} would be erased and{' '}
          {plural(count.cancelled, 'pending delivery', 'pending deliveries')} cancelled.
        </p>
      )}
      {done && (
        <p role="status">
          Erased {plural(done.events, 'event')}; {plural(done.cancelled, 'delivery', 'deliveries')} cancelled.
        </p>
      )}
      <ErrorLine error={result.error} />
    </section>
  );
}
