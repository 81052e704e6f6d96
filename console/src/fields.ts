import type { CombinedError } from 'urql';

// The API names the input at fault in a BAD_USER_INPUT error's `field`
// extension ("input.destinationUrl", "subscriptions[2].filter"): the console
// shows that message next to that field, and anything else above the form.

export interface FieldErrors {
  /** Message by field path, without the argument prefix ("destinationUrl", "subscriptions[2].filter"). */
  byField: Record<string, string>;
  /** Messages that name no field this form shows. */
  other: string | null;
}

export function fieldErrors(error: CombinedError | undefined | null, prefix = ''): FieldErrors {
  const byField: Record<string, string> = {};
  const other: string[] = [];
  if (!error) return { byField, other: null };
  for (const g of error.graphQLErrors) {
    const field = g.extensions?.field;
    if (typeof field === 'string' && field.startsWith(prefix)) byField[field.slice(prefix.length)] = g.message;
    else other.push(g.message);
  }
  if (error.networkError) other.push(`Network error: ${error.networkError.message}`);
  return { byField, other: other.length ? other.join('; ') : null };
}

/**
 * The messages about subscriptions[i] (its filter, or the pair itself), keyed
 * by the event type that was sent at index i.
 */
export function subscriptionErrors(
  byField: Record<string, string>,
  list: string,
  sent: readonly string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  const pattern = new RegExp(`^${list}\\[(\\d+)\\]`);
  for (const [field, message] of Object.entries(byField)) {
    const m = pattern.exec(field);
    const type = m ? sent[Number(m[1])] : undefined;
    if (type) out[type] = message;
  }
  return out;
}
