import { headersForAudit, headerSealColumn, type CheckedHeader, type StoredHeader } from '../../domain/headers.js';
import type { SecretVault } from '../secrets.js';

// A webhook's custom headers between the API and the webhooks.headers column:
// secret values sealed with the vault (as the bearer token is), and the audit
// entry's view of a change, which names headers and never holds a value.

/** The names of the secret headers stored now (lower-case): an empty secret value keeps one of them. */
export function storedSecretNames(stored: readonly StoredHeader[]): Set<string> {
  return new Set(stored.filter((h) => h.secret).map((h) => h.name.toLowerCase()));
}

/** The list to store; a kept secret keeps its sealed value, which stays bound to its lower-case name. */
export function sealHeaders(
  vault: SecretVault,
  webhookId: string,
  headers: readonly CheckedHeader[],
  current: readonly StoredHeader[] = [],
): StoredHeader[] {
  return headers.map((h): StoredHeader => {
    if (!h.secret) return { name: h.name, secret: false, value: h.value };
    if (h.keep) {
      const kept = current.find((c) => c.secret && c.name.toLowerCase() === h.name.toLowerCase());
      if (kept?.secret) return { name: h.name, secret: true, sealed: kept.sealed };
    }
    return { name: h.name, secret: true, sealed: vault.seal(headerSealColumn(h.name), webhookId, h.value) };
  });
}

const valueOf = (h: StoredHeader) => (h.secret ? `s:${h.sealed}` : `v:${h.value}`);

/**
 * The audit entry's `headers` change, or null when the list is unchanged:
 * names before and after (secret ones marked), and the names whose value was
 * set or changed, never a value.
 */
export function headersChange(
  before: readonly StoredHeader[],
  after: readonly StoredHeader[],
): { old: string[]; new: string[]; valuesSet: string[] } | null {
  const was = new Map(before.map((h) => [h.name.toLowerCase(), h]));
  const valuesSet = after
    .filter((h) => {
      const old = was.get(h.name.toLowerCase());
      return !old || old.secret !== h.secret || valueOf(old) !== valueOf(h);
    })
    .map((h) => h.name);
  const oldNames = headersForAudit(before);
  const newNames = headersForAudit(after);
  if (valuesSet.length === 0 && JSON.stringify(oldNames) === JSON.stringify(newNames)) return null;
  return { old: oldNames, new: newNames, valuesSet };
}
