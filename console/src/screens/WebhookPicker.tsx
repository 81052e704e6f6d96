import { useQuery } from 'urql';
import { useAccount } from '../account';
import { graphql } from '../gql';

// The "Webhook" filter of the Deliveries and Live screens: the first 100
// webhooks of the chosen account by name (past that, the Webhooks list's search finds one, and its
// page links here with the filter set), plus the one in the URL if it is not
// among them.

const WebhookNames = graphql(`
  query WebhookNames($accountId: ID) {
    webhooks(first: 100, accountId: $accountId) {
      edges {
        node {
          id
          name
        }
      }
    }
  }
`);

export function useWebhookNames(): { id: string; name: string }[] {
  const [{ data }] = useQuery({ query: WebhookNames, variables: { accountId: useAccount().id } });
  return data?.webhooks.edges.map((e) => e.node) ?? [];
}

export function WebhookPicker({ value, onChange }: { value: string | null; onChange: (id: string | null) => void }) {
  const known = useWebhookNames();
  return (
    <label>
      Webhook
      <select value={value ?? ''} onChange={(e) => onChange(e.target.value || null)}>
        <option value="">every webhook</option>
        {value && !known.some((w) => w.id === value) && <option value={value}>{value}</option>}
        {known.map((w) => (
          <option key={w.id} value={w.id}>
            {w.name}
          </option>
        ))}
      </select>
    </label>
  );
}
