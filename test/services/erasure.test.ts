import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CLI_ACTOR } from '../../src/domain/audit.js';
import { EVERY_ACCOUNT } from '../../src/domain/accounts.js';
import { ErasureService } from '../../src/services/erasure.js';
import {
  codes,
  deliveryFor,
  eventually,
  must,
  setPaused,
  startReceiver,
  startServer,
  uniquePath,
  waitForAttempts,
  type Receiver,
  type TestServer,
} from '../kit/index.js';

// eraseObject: an object's payloads, its attempts' response bodies and its
// pending deliveries go, in batches of their own transaction; nothing of the
// object is sent afterwards (pending, resumed, retried, replayed or
// redelivered); other objects and other accounts keep everything; a dry run
// counts and changes nothing; each real run is audited with counts.

const ERASE = `mutation($r: ResourceType!, $o: String!, $a: ID, $dry: Boolean) {
  eraseObject(resource: $r, objectId: $o, accountId: $a, dryRun: $dry) { events deliveriesCancelled dryRun }
}`;

describe('eraseObject', () => {
  let s: TestServer;
  let r: Receiver;
  const acct = { a: '', b: '' };
  let tokenA = '';
  const path = { live: uniquePath('erase-live'), parked: uniquePath('erase-parked'), b: uniquePath('erase-b') };
  const hook = { live: '', parked: '', b: '' };

  const erase = (vars: Record<string, unknown>, who: string | null = 'SUPPORT') =>
    s.gql<{ eraseObject: { events: number; deliveriesCancelled: number; dryRun: boolean } }>(ERASE, vars, who);
  const publishIn = async (account: string, id: string, extra: Record<string, unknown>) =>
    must(
      await s.gql(
        `mutation($input: PublishEventInput!) { publishEvent(input: $input) { id deliveries { id webhook { id } } } }`,
        { input: { resource: 'USERS', action: 'UPDATE', payload: { id, ...extra }, account } },
      ),
    ).publishEvent as { id: string; deliveries: { id: string; webhook: { id: string } }[] };
  const payloadOf = async (eventId: string) =>
    (await s.db.pool.query(`SELECT payload, erased_at FROM events WHERE id = $1`, [eventId])).rows[0] as {
      payload: Record<string, unknown>;
      erased_at: Date | null;
    };
  const bodiesOf = async (eventId: string) =>
    (
      await s.db.pool.query<{ response_body: string | null }>(
        `SELECT a.response_body FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1`,
        [eventId],
      )
    ).rows.map((x) => x.response_body);

  before(async () => {
    s = await startServer('erasure', { env: { HOOKLINE_RETRY_SCHEDULE: '50ms' } });
    r = await startReceiver();
    // The receiver's answer quotes the person: the response body holds their data too.
    r.on(path.live, (req) => ({ status: 200, body: `got ${JSON.parse(req.body).data.email ?? ''}` }));
    r.on(path.parked, () => ({ status: 200, body: 'parked receipt' }));
    r.on(path.b, (req) => ({ status: 200, body: `b got ${JSON.parse(req.body).data.email ?? ''}` }));
    for (const x of ['a', 'b'] as const) {
      acct[x] = must(
        await s.gql(`mutation { createAccount(input: {key: "erase-${x}", name: "Erase ${x}"}) { id } }`),
      ).createAccount.id;
    }
    const inAccount = async (name: string, url: string, accountId: string) =>
      must(
        await s.gql(
          `mutation { createWebhook(input: {name: "${name}", destinationUrl: "${url}", accountId: "${accountId}", subscriptions: [{resource: USERS, action: UPDATE}]}) { id } }`,
        ),
      ).createWebhook.id as string;
    hook.live = await inAccount('live', `${r.url}${path.live}`, acct.a);
    hook.parked = await inAccount('parked', `${r.url}${path.parked}`, acct.a);
    hook.b = await inAccount('b', `${r.url}${path.b}`, acct.b);
    await setPaused(s, hook.parked, true);
    tokenA = must(
      await s.gql(`mutation { createApiKey(name: "erase admin a", role: SUPPORT, accountId: "${acct.a}") { token } }`),
    ).createApiKey.token;
  });
  after(async () => {
    await s.stop();
    await r.close();
  });

  it('erases the payloads and response bodies, cancels what is pending, and sends nothing of the object afterwards', async () => {
    const mine = [
      await publishIn('erase-a', 'p-1', { email: 'ada@example.com', first_name: 'Ada' }),
      await publishIn('erase-a', 'p-1', { email: 'ada@example.com', first_name: 'Ada L.' }),
    ];
    const otherObject = await publishIn('erase-a', 'p-2', { email: 'bob@example.com' });
    const otherAccount = await publishIn('erase-b', 'p-1', { email: 'eve@example.com' });
    for (const e of [...mine, otherObject]) await waitForAttempts(s, deliveryFor(e as never, hook.live), 1);
    await waitForAttempts(s, deliveryFor(otherAccount as never, hook.b), 1);
    assert.deepEqual(await bodiesOf(mine[0]!.id), ['got ada@example.com']);

    const dry = must(await erase({ r: 'USERS', o: 'p-1', a: acct.a, dry: true })).eraseObject;
    assert.deepEqual(
      dry,
      { events: 2, deliveriesCancelled: 2, dryRun: true },
      'two events, each parked at one webhook',
    );
    assert.equal((await payloadOf(mine[0]!.id)).payload.email, 'ada@example.com', 'a dry run changes nothing');
    assert.deepEqual(await bodiesOf(mine[0]!.id), ['got ada@example.com']);

    const done = must(await erase({ r: 'USERS', o: 'p-1', a: acct.a })).eraseObject;
    assert.deepEqual(done, { events: 2, deliveriesCancelled: 2, dryRun: false });
    for (const e of mine) {
      const stored = await payloadOf(e.id);
      assert.deepEqual(stored.payload, { id: 'p-1' });
      assert.ok(stored.erased_at instanceof Date);
      assert.deepEqual(await bodiesOf(e.id), [null], 'the live webhook’s attempt keeps no body');
    }
    const view = must(await s.gql(`query { event(id: "${mine[0]!.id}") { payload erasedAt objectId } }`)).event;
    assert.deepEqual(view.payload, { id: 'p-1' });
    assert.ok(view.erasedAt);
    assert.equal(view.objectId, 'p-1', 'the erased event is still found by its object');

    const statuses = (
      await s.db.pool.query(
        `SELECT d.status, (SELECT count(*)::int FROM delivery_queue q WHERE q.delivery_id = d.id) AS queued
         FROM deliveries d WHERE d.webhook_id = $1 AND d.event_id = ANY($2::uuid[])`,
        [hook.parked, mine.map((e) => e.id)],
      )
    ).rows;
    assert.deepEqual(statuses, [
      { status: 'CANCELLED', queued: 0 },
      { status: 'CANCELLED', queued: 0 },
    ]);

    // Untouched: the same account's other object, the same object id in another account.
    assert.equal((await payloadOf(otherObject.id)).payload.email, 'bob@example.com');
    assert.deepEqual(await bodiesOf(otherObject.id), ['got bob@example.com']);
    assert.equal((await payloadOf(otherAccount.id)).payload.email, 'eve@example.com');
    assert.deepEqual(await bodiesOf(otherAccount.id), ['b got eve@example.com']);

    // Resumed, the parked webhook gets the other object's delivery and nothing of p-1.
    await setPaused(s, hook.parked, false);
    await waitForAttempts(s, deliveryFor(otherObject as never, hook.parked), 1);
    const parkedGot = r.received.filter((x) => x.path === path.parked).map((x) => JSON.parse(x.body).data.id);
    assert.deepEqual(parkedGot, ['p-2']);

    // A replay of everything, a retry and a redelivery send nothing of p-1 either.
    const since = new Date(Date.now() - 3_600_000).toISOString();
    const replay = must(
      await s.gql(
        `mutation { replayDeliveries(webhookId: "${hook.live}", since: "${since}", scope: ALL, dryRun: true) { count } }`,
      ),
    ).replayDeliveries;
    assert.equal(replay.count, 1, 'only p-2 is replayed');
    const redeliver = await s.gql(
      `mutation { redeliver(deliveryId: "${deliveryFor(mine[0] as never, hook.live)}") { id } }`,
    );
    assert.deepEqual(codes(redeliver), ['BAD_USER_INPUT']);
    assert.match(redeliver.errors![0]!.message, /^deliveryId: its event was erased/);
    await s.db.pool.query(`UPDATE deliveries SET status = 'FAILED' WHERE event_id = $1 AND webhook_id = $2`, [
      mine[1]!.id,
      hook.live,
    ]);
    const retried = must(
      await s.gql(`mutation { retryFailedDeliveries(webhookId: "${hook.live}", since: "${since}") }`),
    ).retryFailedDeliveries;
    assert.equal(retried, 0, 'a failed delivery of an erased event is not retried');
    const before = r.received.length;
    must(
      await s.gql(`mutation { replayDeliveries(webhookId: "${hook.live}", since: "${since}", scope: ALL) { count } }`),
    );
    await eventually(() => r.received.length === before + 1, 10_000, 'the replay of p-2');
    await new Promise((ok) => setTimeout(ok, 300));
    const sentSince = r.received.slice(before).map((x) => JSON.parse(x.body).data.id);
    assert.deepEqual(sentSince, ['p-2']);
    assert.ok(!r.received.slice(before).some((x) => x.body.includes('ada@example.com')));

    const audit = (
      await s.db.pool.query(
        `SELECT actor_name, target_type, target_id, account_id, changes FROM audit_log WHERE action = 'object.erased'`,
      )
    ).rows;
    assert.deepEqual(audit, [
      {
        actor_name: 'test SUPPORT',
        target_type: 'Object',
        target_id: null,
        account_id: acct.a,
        changes: {
          resource: 'USERS',
          objectId: 'p-1',
          events: 2,
          deliveriesCancelled: 2,
          attemptBodiesRemoved: 2,
          complete: true,
        },
      },
    ]);
    assert.ok(!JSON.stringify(audit).includes('ada'), 'the audit records counts, not data');

    const again = must(await erase({ r: 'USERS', o: 'p-1', a: acct.a })).eraseObject;
    assert.deepEqual(again, { events: 0, deliveriesCancelled: 0, dryRun: false }, 'erasing again finds nothing left');
  });

  it('a scoped key erases within its own account only; another account reads as a missing one', async () => {
    const e = await publishIn('erase-b', 'p-scoped', { email: 'mallory@example.com' });
    const refused = await erase({ r: 'USERS', o: 'p-scoped', a: acct.b }, tokenA);
    assert.deepEqual(codes(refused), ['NOT_FOUND']);
    const missing = await erase({ r: 'USERS', o: 'p-scoped', a: '00000000-0000-4000-8000-00000000dead' });
    assert.deepEqual(codes(missing), ['NOT_FOUND']);
    assert.equal(refused.errors![0]!.message.replace(acct.b, 'X'), missing.errors![0]!.message.replace(/\S+dead/, 'X'));
    const own = must(await erase({ r: 'USERS', o: 'p-scoped' }, tokenA)).eraseObject;
    assert.deepEqual(own, { events: 0, deliveriesCancelled: 0, dryRun: false }, 'its own account has no such object');
    assert.equal((await payloadOf(e.id)).payload.email, 'mallory@example.com');
    for (const role of ['VIEWER', 'PUBLISHER']) {
      assert.deepEqual(codes(await erase({ r: 'USERS', o: 'p-scoped', a: acct.b }, role)), ['FORBIDDEN']);
    }
    assert.equal((await payloadOf(e.id)).payload.email, 'mallory@example.com');
  });

  it('hostile input is refused naming the field, and nothing is changed', async () => {
    const audited = async () =>
      (await s.db.pool.query(`SELECT count(*)::int AS n FROM audit_log WHERE action = 'object.erased'`)).rows[0]
        .n as number;
    const before = await audited();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ r: 'USERS', o: '' }, /^objectId: expected 1 to 255 characters/],
      [{ r: 'USERS', o: 'x'.repeat(100_000) }, /^objectId: expected 1 to 255 characters/],
      [{ r: 'USERS', o: 'a\u0000b' }, /^objectId: expected 1 to 255 characters without NUL/],
      [{ r: 'USERS', o: 'p-1', a: 'not-a-uuid' }, /^account not-a-uuid does not exist/],
    ];
    for (const [vars, message] of cases) {
      const res = await erase(vars);
      assert.equal(res.data, null);
      assert.match(res.errors![0]!.message, message);
      assert.ok(res.errors![0]!.message.length < 300, 'the huge value is not echoed');
    }
    assert.deepEqual(codes(await erase({ r: 'NOPE', o: 'p-1' })), ['BAD_USER_INPUT']);
    assert.equal(await audited(), before, 'a refused erasure is not audited');
  });

  it('walks 2,000 events in batches, each a transaction of its own, skipping other accounts’ events under the same id', async () => {
    // One time line for both accounts: B's events sit among A's newest ones in the index.
    const base = new Date();
    const insert = (accountId: string, n: number) =>
      s.db.pool.query(
        `INSERT INTO events (account_id, resource, action, type, payload, occurred_at, created_at)
         SELECT $1, 'USERS', 'UPDATE', 'user.updated', jsonb_build_object('id', 'bulk', 'email', 'p' || i || '@example.com'),
                now(), $3::timestamptz - i * interval '1 ms'
         FROM generate_series(1, $2::int) i`,
        [accountId, n, base],
      );
    await insert(acct.a, 2_000);
    await insert(acct.b, 150);
    const service = new ErasureService(s.db.pool, 100);
    const counted = await service.erase(
      EVERY_ACCOUNT,
      { resource: 'USERS', objectId: 'bulk', accountId: acct.a, dryRun: true },
      CLI_ACTOR,
    );
    assert.deepEqual(counted, { events: 2_000, deliveriesCancelled: 0, dryRun: true });
    const result = await service.erase(
      EVERY_ACCOUNT,
      { resource: 'USERS', objectId: 'bulk', accountId: acct.a },
      CLI_ACTOR,
    );
    assert.deepEqual(result, { events: 2_000, deliveriesCancelled: 0, dryRun: false });
    const { rows } = await s.db.pool.query(
      `SELECT account_id, count(*)::int AS n, count(*) FILTER (WHERE payload = '{"id": "bulk"}')::int AS erased,
              count(DISTINCT xmin::text)::int AS transactions
       FROM events WHERE payload ->> 'id' = 'bulk' GROUP BY account_id ORDER BY n DESC`,
    );
    // 2,150 index entries (B's among A's, by time) walked 100 at a time: 22 batches, a transaction each.
    assert.deepEqual(rows, [
      { account_id: acct.a, n: 2_000, erased: 2_000, transactions: 22 },
      { account_id: acct.b, n: 150, erased: 0, transactions: 1 },
    ]);
    const audit = (
      await s.db.pool.query(
        `SELECT changes FROM audit_log WHERE action = 'object.erased' AND changes ->> 'objectId' = 'bulk'`,
      )
    ).rows;
    assert.deepEqual(audit, [
      {
        changes: {
          resource: 'USERS',
          objectId: 'bulk',
          events: 2_000,
          deliveriesCancelled: 0,
          attemptBodiesRemoved: 0,
          complete: true,
        },
      },
    ]);
  });
});
