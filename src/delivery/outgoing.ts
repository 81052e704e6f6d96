import type { SecretVault } from '../services/secrets.js';
import type { ClaimedDelivery } from '../storage/sql/claim.js';
import type { OutgoingMessage } from './sender.js';
import { headerSealColumn } from '../domain/headers.js';

/** What every delivery to one webhook, at one version, sends alike. */
type Destination = Omit<OutgoingMessage, 'eventId' | 'body' | 'traceparent'>;

// Opened once per webhook and version, not per delivery: each claimed row
// carries its webhook's sealed secrets, and opening five of them (the vault's
// cache lookups included) and mapping the custom headers was 35 ms of a
// 5,000-delivery drain's 4,310 (bench/compare.ts with PROF=1). Every column
// read here is in the webhooks' version trigger
// (migrations/1765800000000-CustomHeaders.ts), so a row of another version
// may differ and is opened again; a previous secret drops out when its
// overlap ends, so an entry lasts until then at most. The drain against
// da52644 (`node dist/bench/compare.js da52644 --rounds 5`): 0.893 -> 0.904,
// inside the rounds' spread (0.88-0.93), as a 1 % cost would be.
const MAX_WEBHOOKS = 10_000;

export class OutgoingMessages {
  private readonly opened = new Map<string, { version: string; until: number; destination: Destination }>();

  constructor(private readonly vault: SecretVault) {}

  /** Throws SecretKeyError when the vault lacks the key a secret is sealed with. */
  for(row: ClaimedDelivery, now: number): OutgoingMessage {
    let entry = this.opened.get(row.webhook_id);
    if (!entry || entry.version !== row.version || now >= entry.until) {
      entry = { version: row.version, until: overlapEnd(row, now), destination: destination(row, this.vault, now) };
      if (this.opened.size >= MAX_WEBHOOKS) this.opened.clear();
      this.opened.set(row.webhook_id, entry);
    }
    return { ...entry.destination, eventId: row.event_id, body: row.body };
  }
}

/** The first end of a rotation's overlap still to come, when the destination changes by itself. */
function overlapEnd(row: ClaimedDelivery, now: number): number {
  let until = Infinity;
  for (const at of [row.previous_hmac_expires_at, row.previous_signing_expires_at]) {
    const t = at?.getTime();
    if (t !== undefined && t > now) until = Math.min(until, t);
  }
  return until;
}

/**
 * A claimed delivery's destination: secrets opened (the vault caches per
 * webhook and key, custom headers' secret values too), and the previous secret
 * or key of a rotation only while its overlap lasts (checked here, at send
 * time; the stored value is dropped later by maintenance). Throws
 * SecretKeyError when the vault lacks the key a secret is sealed with.
 */
function destination(row: ClaimedDelivery, vault: SecretVault, now: number): Destination {
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
    bearerToken: vault.open('bearer_token', w, row.bearer_token),
    hmacSecrets: hmacSecrets.filter((x): x is string => x !== null),
    signingKeys: signingKeys.filter((x): x is string => x !== null),
    headers: (row.headers ?? []).map((h): [string, string] => [
      h.name,
      h.secret ? vault.open(headerSealColumn(h.name), w, h.sealed) : h.value,
    ]),
  };
}
