import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { verify as cryptoVerify } from 'node:crypto';
import { publicKeyFrom } from '../../src/domain/signing.js';
import {
  codes,
  eventually,
  must,
  openStored,
  publish,
  receivedAt,
  startReceiver,
  startServer,
  uniquePath,
  type Received,
  type Receiver,
  type TestServer,
  v1Verifies,
} from '../kit/index.js';

// Secret rotation with overlap, and ED25519 (v1a) signatures, verified the way
// receivers do: the standardwebhooks and svix libraries for v1 (whsec_
// secrets), node:crypto with nothing but the whpk_ public key for v1a. The end
// of an overlap is reached by backdating it, not by waiting; the server's
// clock is frozen (at the real time, so the verifiers' 5-minute window holds).

const WEBHOOK_FIELDS = 'id hasHmacSecret signingPublicKey previousSecretExpiresAt';
const ROTATE = `mutation($id: ID!, $scheme: SignatureScheme, $o: Int) {
  rotateWebhookSecret(webhookId: $id, scheme: $scheme, overlapSeconds: $o) { secret publicKey previousSecretExpiresAt webhook { ${WEBHOOK_FIELDS} } }
}`;

/** A receiver's ED25519 check: some v1a entry verifies with this whpk_ key over id.timestamp.body. */
const v1aVerifies = (whpk: string, m: Received, body = m.body) => {
  const content = Buffer.from(`${m.headers['webhook-id']}.${m.headers['webhook-timestamp']}.${body}`);
  return String(m.headers['webhook-signature'])
    .split(' ')
    .filter((e) => e.startsWith('v1a,'))
    .some((e) => cryptoVerify(null, content, publicKeyFrom(whpk), Buffer.from(e.slice(4), 'base64')));
};

const entries = (m: Received) =>
  String(m.headers['webhook-signature'])
    .split(' ')
    .map((e) => e.split(',')[0]);

describe('delivery: secret rotation and ED25519 signatures', () => {
  let s: TestServer;
  let r: Receiver;
  let n = 0;

  before(async () => {
    s = await startServer('dlv_rotation', { env: { HOOKLINE_RETRY_SCHEDULE: '1h' } });
    r = await startReceiver();
    s.clock.freeze();
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  async function webhook(extra: Record<string, unknown>) {
    const path = uniquePath('rot');
    const res = await s.gql(
      `mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { ${WEBHOOK_FIELDS} generatedHmacSecret } }`,
      {
        i: {
          name: 'rotating',
          destinationUrl: `${r.url}${path}`,
          subscriptions: [{ resource: 'COURSES', action: 'UPDATE' }],
          ...extra,
        },
      },
    );
    return { ...must(res, 'createWebhook').createWebhook, path };
  }

  /** Publishes one event and returns what the webhook at `path` received for it. */
  async function deliverOne(path: string): Promise<Received> {
    const ev = await publish(s, 'COURSES', 'UPDATE', { id: `c-${++n}`, title: 'Rotation ✓' });
    return eventually(() => receivedAt(r, path).find((m) => m.headers['webhook-id'] === ev.id), 10_000, 'the delivery');
  }

  it('v1a: a receiver verifies with the whpk_ key alone; a tampered body fails; v1 rides along when there is an HMAC secret', async () => {
    const w = await webhook({ generateSigningKey: true, generateHmacSecret: true });
    assert.match(w.signingPublicKey, /^whpk_[A-Za-z0-9+/]{43}=$/);
    const m = await deliverOne(w.path);
    assert.deepEqual(entries(m), ['v1', 'v1a']);
    assert.equal(v1aVerifies(w.signingPublicKey, m), true);
    assert.equal(v1aVerifies(w.signingPublicKey, m, m.body.replace('Rotation', 'Rotatiom')), false);
    assert.equal(v1Verifies(w.generatedHmacSecret, m), true);

    const edOnly = await webhook({ generateSigningKey: true });
    const e = await deliverOne(edOnly.path);
    assert.deepEqual(entries(e), ['v1a']);
    assert.equal(v1aVerifies(edOnly.signingPublicKey, e), true);
  });

  it('HMAC rotation: during the overlap one delivery verifies with the old secret alone and the new alone; after it, only the new', async () => {
    const w = await webhook({ generateHmacSecret: true });
    const old = w.generatedHmacSecret as string;
    const rotated = must(await s.gql(ROTATE, { id: w.id, o: 3600 }), 'rotate').rotateWebhookSecret;
    assert.match(rotated.secret, /^whsec_/);
    assert.notEqual(rotated.secret, old);
    assert.equal(rotated.publicKey, null);
    assert.equal(
      Date.parse(rotated.previousSecretExpiresAt),
      s.clock.now() + 3_600_000,
      'an hour from the (frozen) clock',
    );
    assert.equal(rotated.webhook.previousSecretExpiresAt, rotated.previousSecretExpiresAt);

    const during = await deliverOne(w.path);
    assert.deepEqual(entries(during), ['v1', 'v1'], 'new first, then the previous');
    assert.equal(v1Verifies(old, during), true, 'the old secret alone verifies');
    assert.equal(v1Verifies(rotated.secret, during), true, 'the new secret alone verifies');

    // The overlap ends (backdated): sending ignores the previous secret, maintenance removes it.
    await s.db.pool.query(`UPDATE webhooks SET previous_hmac_expires_at = now() - interval '1 hour' WHERE id = $1`, [
      w.id,
    ]);
    const afterwards = await deliverOne(w.path);
    assert.deepEqual(entries(afterwards), ['v1']);
    assert.equal(v1Verifies(rotated.secret, afterwards), true);
    assert.equal(v1Verifies(old, afterwards), false, 'the old secret no longer verifies');
    const report = await s.hookline.maintenance!.runNow();
    assert.ok(report.previousSecretsDropped >= 1);
    const { rows } = await s.db.pool.query(
      'SELECT previous_hmac_secret, previous_hmac_expires_at FROM webhooks WHERE id = $1',
      [w.id],
    );
    assert.deepEqual(rows[0], { previous_hmac_secret: null, previous_hmac_expires_at: null });
    const now = must(
      await s.gql(`query($id: ID!) { webhook(id: $id) { previousSecretExpiresAt } }`, { id: w.id }),
      'webhook',
    );
    assert.equal(now.webhook.previousSecretExpiresAt, null);
  });

  it('ED25519 rotation overlaps the same way: both keys verify during it, only the new one after', async () => {
    const w = await webhook({ generateSigningKey: true });
    const old = w.signingPublicKey as string;
    const rotated = must(await s.gql(ROTATE, { id: w.id, scheme: 'ED25519', o: 600 }), 'rotate').rotateWebhookSecret;
    assert.equal(rotated.secret, null);
    assert.match(rotated.publicKey, /^whpk_/);
    assert.equal(rotated.webhook.signingPublicKey, rotated.publicKey);

    const during = await deliverOne(w.path);
    assert.deepEqual(entries(during), ['v1a', 'v1a']);
    assert.equal(v1aVerifies(old, during), true);
    assert.equal(v1aVerifies(rotated.publicKey, during), true);

    await s.db.pool.query(`UPDATE webhooks SET previous_signing_expires_at = now() - interval '1 hour' WHERE id = $1`, [
      w.id,
    ]);
    const afterwards = await deliverOne(w.path);
    assert.deepEqual(entries(afterwards), ['v1a']);
    assert.equal(v1aVerifies(rotated.publicKey, afterwards), true);
    assert.equal(v1aVerifies(old, afterwards), false);
  });

  it('overlapSeconds 0 ends the old secret at once; updateWebhook(hmacSecret) replaces at once too', async () => {
    const w = await webhook({ generateHmacSecret: true });
    const rotated = must(await s.gql(ROTATE, { id: w.id, o: 0 }), 'rotate').rotateWebhookSecret;
    assert.equal(rotated.previousSecretExpiresAt, null);
    const m = await deliverOne(w.path);
    assert.deepEqual(entries(m), ['v1']);
    assert.equal(v1Verifies(w.generatedHmacSecret, m), false);
    assert.equal(v1Verifies(rotated.secret, m), true);

    // A rotation with overlap, then a plain replacement: the replacement drops the overlap.
    await s.gql(ROTATE, { id: w.id, o: 3600 });
    const replaced = `whsec_${Buffer.alloc(24, 9).toString('base64')}`;
    const u = await s.gql(
      `mutation($id: ID!, $h: String!) { updateWebhook(id: $id, input: {hmacSecret: $h}) { previousSecretExpiresAt } }`,
      { id: w.id, h: replaced },
    );
    assert.equal(must(u, 'update').updateWebhook.previousSecretExpiresAt, null);
    const after = await deliverOne(w.path);
    assert.deepEqual(entries(after), ['v1']);
    assert.equal(v1Verifies(replaced, after), true);
  });

  it("two concurrent rotations: the second keeps the first one's new secret as its previous, and both are audited", async () => {
    const w = await webhook({ generateHmacSecret: true });
    const old = w.generatedHmacSecret as string;
    // A test transaction holds the row while both rotations start; both wait on it before it is released.
    const holder = await s.db.pool.connect();
    let rotations: Promise<{ secret: string }>[];
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM webhooks WHERE id = $1 FOR UPDATE', [w.id]);
      rotations = [1, 2].map(
        async () => must(await s.gql(ROTATE, { id: w.id, o: 3600 }), 'rotate').rotateWebhookSecret,
      );
      await eventually(
        async () =>
          (
            await s.db.pool.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity
               WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> $1`,
              [(await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid],
            )
          ).rows[0].n === 2 || undefined,
        10_000,
        'both rotations waiting on the held row',
      );
    } finally {
      await holder.query('COMMIT');
      holder.release();
    }
    const [a, b] = await Promise.all(rotations);
    const { rows } = await s.db.pool.query(
      `SELECT count(*)::int AS n FROM audit_log WHERE target_id = $1 AND action = 'webhook.secret_rotated'`,
      [w.id],
    );
    assert.equal(rows[0].n, 2, 'both rotations in the audit log');
    // The delivery is signed with the current secret and the previous one: the two rotations' new secrets.
    const m = await deliverOne(w.path);
    assert.deepEqual(entries(m), ['v1', 'v1']);
    assert.equal(v1Verifies(a!.secret, m), true, "the first rotation's secret verifies");
    assert.equal(v1Verifies(b!.secret, m), true, "the second rotation's secret verifies");
    assert.equal(v1Verifies(old, m), false, 'the secret before both is gone');
  });

  it("two rotations at once are serialized: the second keeps the first one's new secret as its previous, and a delivery verifies with both", async () => {
    const w = await webhook({ generateHmacSecret: true });
    const original = w.generatedHmacSecret as string;
    // The test holds the webhook's row, so both rotations are in flight together; each must wait for it.
    const lockWaiters = (n: number) =>
      eventually(
        async () =>
          (
            await s.db.pool.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
            )
          ).rows[0]!.n === n,
        10_000,
        `${n} rotation(s) waiting for the webhook's row`,
      );
    const hold = await s.db.pool.connect();
    let first: ReturnType<typeof s.gql> | undefined;
    let second: ReturnType<typeof s.gql> | undefined;
    try {
      await hold.query('BEGIN');
      await hold.query('SELECT 1 FROM webhooks WHERE id = $1 FOR UPDATE', [w.id]);
      first = s.gql(ROTATE, { id: w.id, o: 3600 });
      await lockWaiters(1);
      second = s.gql(ROTATE, { id: w.id, o: 3600 });
      await lockWaiters(2);
    } finally {
      await hold.query('COMMIT');
      hold.release();
    }
    const a = (must(await first!, 'first rotation') as { rotateWebhookSecret: { secret: string } }).rotateWebhookSecret
      .secret;
    const b = (must(await second!, 'second rotation') as { rotateWebhookSecret: { secret: string } })
      .rotateWebhookSecret.secret;
    assert.equal(new Set([original, a, b]).size, 3);

    const { rows } = await s.db.pool.query('SELECT hmac_secret, previous_hmac_secret FROM webhooks WHERE id = $1', [
      w.id,
    ]);
    assert.deepEqual(
      [
        openStored('hmac_secret', w.id, rows[0].hmac_secret),
        openStored('previous_hmac_secret', w.id, rows[0].previous_hmac_secret),
      ],
      [b, a],
      'the first rotation (which took the row first) is the previous of the second, not lost',
    );
    const m = await deliverOne(w.path);
    assert.deepEqual(entries(m), ['v1', 'v1']);
    assert.equal(v1Verifies(b, m), true, "the second rotation's secret verifies");
    assert.equal(v1Verifies(a, m), true, "the first rotation's secret still verifies during the overlap");
    assert.equal(v1Verifies(original, m), false, 'the secret before both is gone (one previous is kept)');
  });

  it('refuses an overlap outside 0 to 7 days, and a webhook that does not exist', async () => {
    const w = await webhook({ generateHmacSecret: true });
    for (const o of [-1, 604_801]) {
      const res = await s.gql(ROTATE, { id: w.id, o });
      assert.deepEqual(codes(res), ['BAD_USER_INPUT']);
      assert.equal(res.errors![0]!.extensions!.field, 'overlapSeconds');
    }
    assert.deepEqual(codes(await s.gql(ROTATE, { id: '00000000-0000-4000-8000-000000000000' })), ['NOT_FOUND']);
  });
});
