import {
  EVENT_ACTIONS,
  RESOURCE_TYPES,
  eventType,
  resourceDefinition,
  supportsAction,
  type EventAction,
  type ResourceType,
} from './catalog.js';
import { badInput } from './errors.js';
import { compileFilter, type FilterTerm } from './filter.js';
import { destinationProblem, type UrlPolicy } from './url-policy.js';
import { isWhsecSecret } from './signing.js';

// Input rules for webhook configuration. Each failure names the field and what was expected.

export const MAX_NAME_LENGTH = 200;
export const MAX_SECRET_LENGTH = 1024;

// PostgreSQL text cannot hold NUL; other control characters only make names unreadable.
const CONTROL = /[\u0000-\u001f\u007f]/;

const MAX_SEARCH_LENGTH = 200;

/** A list's search text (1 to 200 characters of `what`); null when there is none. */
export function validSearch(search: string | null | undefined, what: string): string | null {
  if (search == null) return null;
  if (search.length === 0 || search.length > MAX_SEARCH_LENGTH) {
    throw badInput('search', `expected 1 to ${MAX_SEARCH_LENGTH} characters of ${what}`);
  }
  return search;
}

/** An ILIKE pattern (with ESCAPE '\\') matching text that contains `search` literally. */
export function containing(search: string): string {
  return `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export function validName(field: string, value: string): string {
  const name = value.trim();
  if (name.length === 0) throw badInput(field, 'must not be empty');
  if (CONTROL.test(name)) throw badInput(field, 'must not contain control characters (line breaks, tabs, NUL)');
  if (name.length > MAX_NAME_LENGTH) {
    throw badInput(field, `must be at most ${MAX_NAME_LENGTH} characters (got ${name.length})`);
  }
  return name;
}

export function validDestination(field: string, value: string, policy: UrlPolicy): string {
  const url = value.trim();
  if (CONTROL.test(url)) throw badInput(field, 'must not contain control characters (line breaks, tabs, NUL)');
  const problem = destinationProblem(url, policy);
  if (problem) throw badInput(field, problem);
  return url;
}

/** Secrets travel in HTTP headers or feed an HMAC: visible ASCII only, no line breaks. */
export function validSecret(field: string, value: string, kind: 'bearer' | 'hmac'): string {
  if (value.length === 0)
    throw badInput(
      field,
      `must not be empty (use clear${kind === 'bearer' ? 'BearerToken' : 'HmacSecret'} to remove it)`,
    );
  if (value.length > MAX_SECRET_LENGTH) {
    throw badInput(field, `must be at most ${MAX_SECRET_LENGTH} characters (got ${value.length})`);
  }
  if (kind === 'bearer' && !/^[\x21-\x7e]+$/.test(value)) {
    throw badInput(field, 'must be visible ASCII characters without spaces or line breaks');
  }
  if (kind === 'hmac' && /[\r\n\0]/.test(value)) throw badInput(field, 'must not contain line breaks or NUL');
  if (kind === 'hmac' && value.startsWith('whsec_') && !isWhsecSecret(value)) {
    throw badInput(field, 'starts with whsec_ but is not whsec_ followed by base64 of at least 16 bytes');
  }
  return value;
}

export interface SubscriptionPair {
  resource: ResourceType;
  action: EventAction;
}

export function samePair(a: SubscriptionPair, b: SubscriptionPair): boolean {
  return a.resource === b.resource && a.action === b.action;
}

export function validPair(field: string, pair: SubscriptionPair): SubscriptionPair {
  if (!RESOURCE_TYPES.includes(pair.resource)) throw badInput(`${field}.resource`, `unknown resource ${pair.resource}`);
  if (!EVENT_ACTIONS.includes(pair.action)) throw badInput(`${field}.action`, `unknown action ${pair.action}`);
  if (!supportsAction(pair.resource, pair.action)) {
    const allowed = resourceDefinition(pair.resource).actions.join(', ');
    throw badInput(field, `${pair.resource} has no ${pair.action} event (it has ${allowed})`);
  }
  return pair;
}

/** Every pair valid, none repeated. */
export function validPairs(field: string, pairs: readonly SubscriptionPair[]): SubscriptionPair[] {
  const seen = new Set<string>();
  return pairs.map((p, i) => {
    validPair(`${field}[${i}]`, { resource: p.resource, action: p.action });
    const key = `${p.resource}/${p.action}`;
    if (seen.has(key)) {
      throw badInput(
        `${field}[${i}]`,
        `duplicate subscription ${eventType(p.resource, p.action)}: one per event type, with one filter (combine conditions with $or)`,
      );
    }
    seen.add(key);
    return { resource: p.resource, action: p.action };
  });
}

export interface SubscriptionSpec extends SubscriptionPair {
  filter: Record<string, unknown> | null;
  /** The filter compiled to an SQL/JSON path (domain/filter.ts); null without a filter. */
  filterPath: string | null;
  /** What the filter costs per field (domain/filter.ts); null without a filter. */
  filterTerms: FilterTerm[] | null;
}

/** Every pair valid and not repeated (one filter per pair: $or combines), every filter checked and compiled. */
export function validSubscriptions(
  field: string,
  subs: readonly (SubscriptionPair & { filter?: Record<string, unknown> | null })[],
): SubscriptionSpec[] {
  const pairs = validPairs(field, subs);
  return pairs.map((p, i) => {
    const filter = subs[i]!.filter ?? null;
    if (filter === null) return { ...p, filter, filterPath: null, filterTerms: null };
    const compiled = compileFilter(filter, `${field}[${i}].filter`);
    return { ...p, filter, filterPath: compiled.path, filterTerms: compiled.terms };
  });
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export function validPageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badInput('first', `must be between 1 and ${MAX_PAGE_SIZE} (got ${first})`);
  }
  return first;
}

const MAX_OBJECT_ID_LENGTH = 255;

/** An object id argument: the payload's id as text ("42"), as Event.objectId shows it; null when there is none. */
export function validObjectId(objectId: string | null | undefined, field = 'objectId'): string | null {
  if (objectId == null) return null;
  // A stored payload cannot hold NUL (PostgreSQL's jsonb refuses it): such an id names no object.
  if (objectId.length === 0 || objectId.length > MAX_OBJECT_ID_LENGTH || objectId.includes('\u0000')) {
    throw badInput(field, `expected 1 to ${MAX_OBJECT_ID_LENGTH} characters without NUL (the payload's id, e.g. "42")`);
  }
  return objectId;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Payload objects are records, not trees: nesting is bounded so every later step (JSON, jsonb, filters) is safe. */
export const MAX_PAYLOAD_DEPTH = 32;

/** How deep a JSON value nests (a scalar is 0), counted without recursion and no further than `stopAfter` + 1. */
export function jsonDepth(value: unknown, stopAfter = Infinity): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    const d = depth + 1;
    if (d > deepest) deepest = d;
    if (deepest > stopAfter) return deepest;
    for (const child of Object.values(v)) stack.push([child, d]);
  }
  return deepest;
}

export const MAX_OVERLAP_SECONDS = 7 * 86_400;

/** A rotation's overlap: whole seconds, from 0 (none) to 7 days. */
export function validOverlap(field: string, seconds: number): number {
  if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_OVERLAP_SECONDS) {
    throw badInput(
      field,
      `must be a whole number of seconds from 0 to ${MAX_OVERLAP_SECONDS} (7 days), got ${seconds}`,
    );
  }
  return seconds;
}
