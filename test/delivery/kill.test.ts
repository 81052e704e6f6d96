import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { eventually } from '../helpers/server.js';
import { startReceiver, type Receiver } from '../helpers/receiver.js';
import { hashToken, newApiToken } from '../../src/domain/tokens.js';

// "Delivery is at least once: a crash can repeat an attempt, never lose one."
// The real server as a child process, SIGKILLed in the middle of a burst, then
// restarted on the same database: every published event still arrives.

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));
const EVENTS = 500;
const CONCURRENCY = 20;

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

describe('delivery survives SIGKILL mid-burst', () => {
  let db: TestDatabase;
  let r: Receiver;
  let port: number;
  let env: NodeJS.ProcessEnv;
  const children: ChildProcess[] = [];
  let stderr = '';

  function startServer(): ChildProcess {
    const child = spawn(process.execPath, [MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', () => undefined);
    child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-20_000)));
    children.push(child);
    return child;
  }

  async function ready(child: ChildProcess, which: string): Promise<void> {
    const waiting = eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${stderr}`);
        try {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1_000) });
          return res.status === 200;
        } catch {
          return false;
        }
      },
      30_000,
      `the ${which} server to be ready`,
    );
    await waiting.catch((e: Error) => {
      throw new Error(`${e.message}; server stderr: ${stderr.slice(-2_000)}`);
    });
  }

  before(async () => {
    db = await freshDatabase('dlv_kill');
    r = await startReceiver();
    port = await freePort();
    env = {
      ...process.env,
      DATABASE_URL: db.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      HOOKLINE_ALLOW_PRIVATE_DESTINATIONS: 'true',
      HOOKLINE_LOG_LEVEL: 'warn',
      HOOKLINE_POLL_INTERVAL: '200ms',
      HOOKLINE_SHUTDOWN_TIMEOUT: '2s',
    };
  });
  after(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGTERM');
        await Promise.race([exited(c), new Promise((res) => setTimeout(res, 10_000))]);
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      }
    }
    await r.close();
    await db.drop();
  });

  it('loses no event when the server is killed mid-burst and restarted', async () => {
    // API keys straight into the table (what `hookline api-keys create` stores), saving a process start.
    const support = newApiToken();
    const publisherKey = newApiToken();
    await db.pool.query(
      `INSERT INTO api_keys (name, role, token_hash) VALUES ('kill support', 'SUPPORT', $1), ('kill publisher', 'PUBLISHER', $2)`,
      [hashToken(support), hashToken(publisherKey)],
    );

    const first = startServer();
    await ready(first, 'first');
    const url = `http://127.0.0.1:${port}/graphql`;
    const gql = async (query: string, variables: Record<string, unknown>, token = publisherKey) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(5_000),
      });
      return (await res.json()) as { data?: any; errors?: unknown[] };
    };

    r.on('/kill', () => ({ status: 200, delayMs: 5 }));
    const w = await gql(
      `mutation($u: String!) { createWebhook(input: {name: "kill", destinationUrl: $u, subscriptions: [{resource: USERS, action: CREATE}]}) { id } }`,
      { u: `${r.url}/kill` },
      support,
    );
    assert.ok(w.data?.createWebhook?.id, JSON.stringify(w));

    // Publishers retry until they get an answer (through the kill and restart);
    // the idempotency key makes a retry of a publish that did commit harmless.
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
            const res = await gql(
              `mutation($p: JSONObject!, $k: String!) { publishEvent(input: {resource: USERS, action: CREATE, payload: $p, idempotencyKey: $k}) { id } }`,
              { p: { id: `user-${i}` }, k: `kill-${i}` },
            );
            if (res.data?.publishEvent?.id) {
              ids[i] = res.data.publishEvent.id;
              break;
            }
          } catch {
            // server down: try again
          }
          publishRetries++;
          await new Promise((res) => setTimeout(res, 50));
        }
      }
    };
    const publishing = Promise.all(Array.from({ length: CONCURRENCY }, publisher));
    try {
      await eventually(() => r.received.length >= 100, 20_000, '100 deliveries before the kill');
      first.kill('SIGKILL');
      await exited(first);
      const receivedAtKill = new Set(r.received.map((m) => m.headers['webhook-id'])).size;
      const publishedAtKill = ids.filter(Boolean).length;

      // The killed worker's claims hold leases of 2 × timeout + 30 s; end them now instead of waiting.
      const { rowCount: pendingAtKill } = await db.pool.query(
        `UPDATE deliveries SET next_attempt_at = now() WHERE status = 'PENDING'`,
      );

      const second = startServer();
      await ready(second, 'restarted');
      await publishing;
      assert.ok(ids.every(Boolean), 'every publish eventually answered');
      const expected = new Set(ids as string[]);
      assert.equal(expected.size, EVENTS, 'one event per idempotency key');

      const delivered = () => new Set(r.received.map((m) => String(m.headers['webhook-id'])));
      await eventually(
        () => [...expected].every((id) => delivered().has(id)),
        30_000,
        'every published event to arrive',
      );

      const got = delivered();
      const lost = [...expected].filter((id) => !got.has(id));
      const duplicates = r.received.length - got.size;
      // eslint-disable-next-line no-console
      console.log(
        `kill: received ${receivedAtKill} distinct before SIGKILL (published ${publishedAtKill}, ${pendingAtKill} pending),` +
          ` ${publishRetries} publish retries, lost ${lost.length}, duplicates ${duplicates}`,
      );
      assert.equal(lost.length, 0);
      assert.ok(receivedAtKill < EVENTS, 'the kill happened mid-burst');
      assert.ok(
        [...got].every((id) => expected.has(id)),
        'nothing but the published events arrived',
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
      await publishing;
    }
  });
});
