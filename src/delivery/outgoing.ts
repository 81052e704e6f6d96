import type { SecretVault } from '../services/secrets.js';
import type { ClaimedDelivery } from '../storage/sql/claim.js';
import type { OutgoingMessage } from './sender.js';
import { headerSealColumn } from '../domain/headers.js';

/**
 * The request to send for a claimed delivery: secrets opened (the vault caches
 * per webhook and key, custom headers' secret values too), and the previous secret or key of a rotation only
 * while its overlap lasts (checked here, at send time; the stored value is
 * dropped later by maintenance). Throws SecretKeyError when the vault lacks
 * the key a secret is sealed with.
 */
export function outgoingMessage(row: ClaimedDelivery, vault: SecretVault, now: number): OutgoingMessage {
  const live = (until: Date | null) => until !== null && until.getTime() > now;
  const w = row.webhook_id;
  const hmacSecrets = [vault.open('hmac_secret', w, row.hmac_secret)];
  if (live(row.previous_hmac_expires_at))
    hmacSecrets.push(vault.open('previous_hmac_secret', w, row.previous_hmac_secret));
  const signingKeys = [vault.open('signing_key', w, row.signing_key)];
  if (live(row.previous_signing_expires_at)) {
    signingKeys.push(vault.open('previous_signing_key', w, row.previous_signing_key));
  }
  return {
    url: row.destination_url,
    eventId: row.event_id,
    body: row.body,
    bearerToken: vault.open('bearer_token', w, row.bearer_token),
    hmacSecrets: hmacSecrets.filter((x): x is string => x !== null),
    signingKeys: signingKeys.filter((x): x is string => x !== null),
    headers: (row.headers ?? []).map((h): [string, string] => [
      h.name,
      h.secret ? vault.open(headerSealColumn(h.name), w, h.sealed) : h.value,
    ]),
  };
}
