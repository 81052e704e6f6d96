import type { EventAction, ResourceType } from '../../gql/graphql';

// The subscription grid's model: the chosen (resource, action) pairs by event
// type, each with its filter as the JSON text the person typed.

export interface CatalogRow {
  type: ResourceType;
  name: string;
  actions: EventAction[];
  eventTypes: string[];
  payloadFormat: string;
}

export interface Chosen {
  resource: ResourceType;
  action: EventAction;
  /** JSON text; empty for no filter. */
  filter: string;
}

export type Selection = Record<string, Chosen>;

export const ACTIONS: EventAction[] = ['CREATE', 'UPDATE', 'DELETE', 'COMPLETE'];

export function selectionOf(
  subs: readonly {
    eventType: string;
    resource: ResourceType;
    action: EventAction;
    filter?: Record<string, unknown> | null;
  }[],
): Selection {
  return Object.fromEntries(
    subs.map((s) => [
      s.eventType,
      { resource: s.resource, action: s.action, filter: s.filter ? JSON.stringify(s.filter) : '' },
    ]),
  );
}

export interface SubscriptionInputValue {
  resource: ResourceType;
  action: EventAction;
  filter?: Record<string, unknown>;
}

/** The pairs as the API takes them; a filter that is not a JSON object is refused here, at its field. */
export function toInputs(
  types: readonly string[],
  sel: Selection,
): { inputs: SubscriptionInputValue[]; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  const inputs = types.map((t) => {
    const c = sel[t]!;
    const text = c.filter.trim();
    if (!text) return { resource: c.resource, action: c.action };
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        return { resource: c.resource, action: c.action, filter: parsed as Record<string, unknown> };
      }
    } catch {
      // reported below
    }
    errors[t] = `filter: expected a JSON object, e.g. {"state": "complete"}`;
    return { resource: c.resource, action: c.action };
  });
  return { inputs, errors };
}

/** Filter text compared by meaning, not spacing. */
export function sameFilter(a: string, b: string): boolean {
  const norm = (s: string) => {
    try {
      return s.trim() ? JSON.stringify(JSON.parse(s)) : '';
    } catch {
      return s;
    }
  };
  return norm(a) === norm(b);
}
