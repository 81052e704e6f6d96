import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { parseKeyring } from '../../src/domain/secret-box.js';
import { headerSealColumn } from '../../src/domain/headers.js';
import { SecretVault } from '../../src/services/secrets.js';
import { OutgoingMessages } from '../../src/delivery/outgoing.js';
import type { ClaimedDelivery } from '../../src/storage/sql/claim.js';

const WEBHOOK = '0193f1b2-7c4d-7a01-8e2f-3b4c5d6e7f80';
const NOW = Date.UTC(2026, 11, 8, 12);

function countingVault() {
  const vault = new SecretVault(parseKeyring(`k1:${randomBytes(32).toString('base64')}`));
  let opened = 0;
  const open = vault.open.bind(vault) as (c: string, w: string, s: string | null) => string | null;
  vault.open = ((column: string, webhookId: string, sealed: string | null) => {
    if (sealed !== null) opened++;
    return open(column, webhookId, sealed);
  }) as typeof vault.open;
  return { vault, opened: () => opened };
}

function row(vault: SecretVault, { n = 1, ...o }: Partial<ClaimedDelivery> & { n?: number } = {}): ClaimedDelivery {
  return {
    id: `d${n}`,
    event_id: `e${n}`,
    webhook_id: WEBHOOK,
    account_id: 'a',
    attempt_count: 1,
    send: true,
    gone: false,
    destination_url: 'http://127.0.0.1:9/hook',
    bearer_token: vault.seal('bearer_token', WEBHOOK, 'bearer-1'),
    hmac_secret: vault.seal('hmac_secret', WEBHOOK, 'whsec_new'),
    previous_hmac_secret: null,
    previous_hmac_expires_at: null,
    signing_key: null,
    previous_signing_key: null,
    previous_signing_expires_at: null,
    version: '1',
    send_traceparent: false,
    headers: [
      { name: 'x-tenant', secret: false, value: 'acme' },
      { name: 'x-api-key', secret: true, sealed: vault.seal(headerSealColumn('x-api-key'), WEBHOOK, 'k-9') },
    ],
    body: `{"n":${n}}`,
    trace_parent: null,
    flight_limited: false,
    rate_limited: false,
    probe: false,
    probes: 0,
    ...o,
  };
}

describe('outgoing messages', () => {
  it('opens a webhook’s secrets once per version; each delivery keeps its own event and body', () => {
    const { vault, opened } = countingVault();
    const messages = new OutgoingMessages(vault);
    const first = messages.for(row(vault, { n: 1 }), NOW);
    const afterFirst = opened();
    first.traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const second = messages.for(row(vault, { n: 2 }), NOW);
    assert.equal(opened(), afterFirst, 'the second delivery opened nothing');
    assert.equal(afterFirst, 3, 'bearer token, HMAC secret and the secret header');
    assert.deepEqual(
      { ...second },
      {
        url: 'http://127.0.0.1:9/hook',
        bearerToken: 'bearer-1',
        hmacSecrets: ['whsec_new'],
        signingKeys: [],
        headers: [
          ['x-tenant', 'acme'],
          ['x-api-key', 'k-9'],
        ],
        eventId: 'e2',
        body: '{"n":2}',
      },
    );
    assert.equal(second.traceparent, undefined, 'what one delivery adds stays its own');
  });

  it('a row of another version is opened again, with what it carries', () => {
    const { vault, opened } = countingVault();
    const messages = new OutgoingMessages(vault);
    messages.for(row(vault), NOW);
    const before = opened();
    const rotated = messages.for(
      row(vault, { version: '2', hmac_secret: vault.seal('hmac_secret', WEBHOOK, 'whsec_rotated') }),
      NOW,
    );
    assert.ok(opened() > before);
    assert.deepEqual(rotated.hmacSecrets, ['whsec_rotated']);
  });

  it('a previous secret signs during its overlap only, at the same version', () => {
    const { vault } = countingVault();
    const messages = new OutgoingMessages(vault);
    const overlap = {
      previous_hmac_secret: vault.seal('previous_hmac_secret', WEBHOOK, 'whsec_old'),
      previous_hmac_expires_at: new Date(NOW + 60_000),
    };
    assert.deepEqual(messages.for(row(vault, overlap), NOW).hmacSecrets, ['whsec_new', 'whsec_old']);
    assert.deepEqual(messages.for(row(vault, overlap), NOW + 59_999).hmacSecrets, ['whsec_new', 'whsec_old']);
    assert.deepEqual(messages.for(row(vault, overlap), NOW + 60_000).hmacSecrets, ['whsec_new']);
  });
});
