import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  eventually,
  freshDatabase,
  insertKeys,
  spawnServer,
  startReceiver,
  type Keys,
  type Receiver,
  type ServerProcess,
  type TestDatabase,
} from '../kit/index.js';

// "Delivery is at least once: a crash can repeat an attempt, never lose one."
// The real server as a child process, SIGKILLed in the middle of a burst, then
// restarted on the same database: every published event still arrives.

const EVENTS = 500;
const CONCURRENCY = 20;

describe('delivery survives SIGKILL mid-burst', () => {
  let db: TestDatabase;
  let r: Receiver;
  let keys: Keys;
  const procs: ServerProcess[] = [];
  const env = { HOOKLINE_SHUTDOWN_TIMEOUT: '2s', HOOKLINE_LOG_LEVEL: 'warn' };

  before(async () => {
    db = await freshDatabase('dlv_kill');
    keys = await insertKeys(db);
    r = await startReceiver();
  });
  after(async () => {
    for (const p of procs) await p.stop();
    await r.close();
    await db.close();
  });

  it('loses no event when the server is killed mid-burst and restarted', async (t) => {
    const first = await spawnServer(db, { keys, env });
    procs.push(first);
    await first.ready();

    r.on('/kill', () => ({ status: 200, delayMs: 5 }));
    const w = await first.gql(
      `mutation($u: String!) { createWebhook(input: {name: "kill", destinationUrl: $u, subscriptions: [{resource: USERS, action: CREATE}]}) { id } }`,
      { u: `${r.url}/kill` },
    );
    assert.ok(w.data?.createWebhook?.id, JSON.stringify(w));

    // Publishers retry until they get an answer (through the kill and restart);
    // the idempotency key makes a retry of a publish that did commit harmless.
    let current = first;
    // Publishes that fail while no server is up wait for the next one instead of spinning.
    let up: Promise<void> = Promise.resolve();
    let restarted = () => undefined as void;
    const ids: (string | undefined)[] = new Array(EVENTS);
    let publishRetries = 0;
    let next = 0;
    let giveUp = false;
    const publisher = async () => {
      for (;;) {
        const i = next++;
        if (i >= EVENTS) return;
        while (!giveUp) {
          try {
            const res = await current.gql(
              `mutation($p: JSONObject!, $k: String!) { publishEvent(input: {resource: USERS, action: CREATE, payload: $p, idempotencyKey: $k}) { id } }`,
              { p: { id: `user-${i}` }, k: `kill-${i}` },
              'PUBLISHER',
            );
            if (res.data?.publishEvent?.id) {
              ids[i] = res.data.publishEvent.id;
              break;
            }
          } catch {
            // server down: try again
          }
          publishRetries++;
          await up;
        }
      }
    };
    const publishing = Promise.all(Array.from({ length: CONCURRENCY }, publisher));
    try {
      await eventually(() => r.received.length >= 100, 20_000, '100 deliveries before the kill');
      up = new Promise((res) => (restarted = res));
      first.child.kill('SIGKILL');
      await first.exited;
      const receivedAtKill = new Set(r.received.map((m) => m.headers['webhook-id'])).size;
      const publishedAtKill = ids.filter(Boolean).length;

      // The killed worker's claims hold their lease (domain/delivery-policy.ts); end them now instead of waiting.
      const { rowCount: pendingAtKill } = await db.pool.query(`UPDATE delivery_queue SET next_attempt_at = now()`);
      // The kill interrupted both bursts: deliveries were under way (some arrived, some queued)
      // and publishes were too, so what follows has something to lose.
      assert.ok(receivedAtKill > 0, 'deliveries arrived before the kill');
      assert.ok(receivedAtKill < EVENTS, `not everything had arrived at the kill: ${receivedAtKill}`);
      assert.ok((pendingAtKill ?? 0) > 0, 'deliveries were queued or in flight at the kill');
      assert.ok(publishedAtKill < EVENTS, `publishing was still under way at the kill: ${publishedAtKill}`);

      const second = await spawnServer(db, { keys, env });
      procs.push(second);
      await second.ready();
      current = second;
      restarted();
      await publishing;
      assert.ok(ids.every(Boolean), 'every publish eventually answered');
      const expected = new Set(ids as string[]);
      assert.equal(expected.size, EVENTS, 'one event per idempotency key');

      const delivered = () => new Set(r.received.map((m) => String(m.headers['webhook-id'])));
      // Fails, naming how many are missing, if any event is lost.
      await eventually(
        () => [...expected].every((id) => delivered().has(id)),
        30_000,
        'every published event to arrive',
      ).catch((e: unknown) => {
        const got = delivered();
        throw new Error(`${[...expected].filter((id) => !got.has(id)).length} events lost: ${String(e)}`);
      });

      const got = delivered();
      const duplicates = r.received.length - got.size;
      assert.ok(
        [...got].every((id) => expected.has(id)),
        'nothing but the published events arrived',
      );
      t.diagnostic(
        `received ${receivedAtKill} distinct before SIGKILL (published ${publishedAtKill}, ${pendingAtKill} pending), ` +
          `${publishRetries} publish retries, duplicates ${duplicates}`,
      );

      const events = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM events');
      assert.equal(events.rows[0]!.n, EVENTS);
      await eventually(
        async () => {
          const { rows } = await db.pool.query<{ status: string; n: number }>(
            'SELECT status, count(*)::int AS n FROM deliveries GROUP BY status',
          );
          return rows.length === 1 && rows[0]!.status === 'SUCCEEDED' && rows[0]!.n === EVENTS;
        },
        15_000,
        'every delivery to be SUCCEEDED',
      );
    } finally {
      // On failure, stop the publishers' retry loops so this process can exit.
      giveUp = true;
      restarted();
      await publishing;
    }
  });
});
