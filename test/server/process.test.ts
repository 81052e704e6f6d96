import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import {
  eventually,
  freshDatabase,
  insertKeys,
  spawnServer,
  startReceiver,
  wsUrl,
  type Keys,
  type Receiver,
  type ServerProcess,
  type TestDatabase,
} from '../kit/index.js';

// The real program as a child process: SIGTERM drains (attempts in flight
// finish and are recorded exactly once, unstarted claims are handed back, no
// send is repeated because of the shutdown, exit 0, "stopped"), a second
// signal exits at once, and everything it writes is a JSON log line.

const EVENTS = 120;

function assertJsonLines(p: ServerProcess): void {
  for (const line of [...p.stdout, ...p.stderr]) {
    if (line === '') continue;
    assert.doesNotThrow(() => JSON.parse(line), `not a JSON log line: ${line}`);
  }
}

describe('the server process', () => {
  let db: TestDatabase;
  let keys: Keys;
  let r: Receiver;
  const procs: ServerProcess[] = [];

  before(async () => {
    db = await freshDatabase('process');
    keys = await insertKeys(db);
    r = await startReceiver();
    r.on('/slow', () => ({ status: 200, delayMs: 150 }));
    r.on('/hang', () => 'hang');
  });
  after(async () => {
    for (const p of procs) await p.stop(2_000);
    await r.close();
    await db.close();
  });

  async function start(env: Record<string, string> = {}): Promise<ServerProcess> {
    const p = await spawnServer(db, { keys, env: { HOOKLINE_SHUTDOWN_TIMEOUT: '10s', ...env } });
    procs.push(p);
    await p.ready();
    return p;
  }

  it('drains on SIGTERM mid-burst: in-flight attempts recorded once, the rest handed back, nothing sent twice, exit 0', async () => {
    const first = await start({ HOOKLINE_PER_WEBHOOK_CONCURRENCY: '5' });
    const w = await first.gql(
      `mutation($u: String!) { createWebhook(input: {name: "drain", destinationUrl: $u, subscriptions: [{resource: USERS, action: CREATE}]}) { id } }`,
      { u: `${r.url}/slow` },
    );
    const webhookId = w.data.createWebhook.id as string;
    const published: string[] = [];
    for (let i = 0; i < EVENTS; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: 20 }, (_, j) =>
          first.gql(
            `mutation($p: JSONObject!) { publishEvent(input: {resource: USERS, action: CREATE, payload: $p}) { id } }`,
            { p: { id: `d${i + j}` } },
            'PUBLISHER',
          ),
        ),
      );
      published.push(...batch.map((x) => x.data.publishEvent.id as string));
    }
    // A WebSocket client and a refused request, so the log has those lines too.
    const ws = new WebSocket(wsUrl(first.url), 'graphql-transport-ws');
    const closed = new Promise<number>((res) => ws.once('close', (code) => res(code)));
    await new Promise((res) => ws.once('open', res));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${keys.VIEWER}` } }));
    await fetch(first.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": "{ nope"}',
    });

    await eventually(() => r.received.length >= 10, 20_000, 'some deliveries before the signal');
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0, first.stderr.join('\n'));
    assert.equal(await closed, 1001, 'WebSocket clients are told the server is going away');
    assertJsonLines(first);
    const messages = first.stdout.map((l) => JSON.parse(l).msg as string);
    assert.ok(messages.includes('stopped'), 'the drain ends with "stopped"');

    // Every attempt the receiver got is recorded exactly once; no claim is left taken.
    const atExit = new Map<string, number>();
    for (const m of r.received)
      atExit.set(String(m.headers['webhook-id']), (atExit.get(String(m.headers['webhook-id'])) ?? 0) + 1);
    const { rows } = await db.pool.query<{ event_id: string; attempts: number; attempt_count: number; status: string }>(
      `SELECT d.event_id, d.attempt_count, d.status, (SELECT count(*)::int FROM delivery_attempts a WHERE a.delivery_id = d.id) AS attempts
       FROM deliveries d WHERE d.webhook_id = $1`,
      [webhookId],
    );
    assert.equal(rows.length, EVENTS);
    for (const row of rows) {
      assert.equal(row.attempt_count, row.attempts, `delivery of ${row.event_id}: a claim without a recorded attempt`);
      assert.equal(row.attempts, atExit.get(row.event_id) ?? 0, `delivery of ${row.event_id}: recorded once per send`);
    }
    assert.ok(atExit.size < EVENTS, 'the signal came mid-burst');

    const second = await start();
    await eventually(() => new Set(r.received.map((m) => m.headers['webhook-id'])).size === EVENTS, 30_000, 'the rest');
    await second.stop();
    const counts = new Map<string, number>();
    for (const m of r.received)
      counts.set(String(m.headers['webhook-id']), (counts.get(String(m.headers['webhook-id'])) ?? 0) + 1);
    assert.deepEqual(
      [...counts.values()].filter((n) => n !== 1),
      [],
      'each event sent exactly once across the shutdown',
    );
    assert.deepEqual(new Set(counts.keys()), new Set(published));
  });

  it('a second signal during the drain exits at once, non-zero', async () => {
    const p = await start({ HOOKLINE_SHUTDOWN_TIMEOUT: '30s' });
    await p.gql(
      `mutation($u: String!) { createWebhook(input: {name: "hang", destinationUrl: $u, subscriptions: [{resource: COURSES, action: CREATE}]}) { id } }`,
      { u: `${r.url}/hang` },
    );
    await p.gql(
      'mutation { publishEvent(input: {resource: COURSES, action: CREATE, payload: {id: "c"}}) { id } }',
      {},
      'PUBLISHER',
    );
    await eventually(() => r.received.some((m) => m.path === '/hang'), 10_000, 'an attempt in flight');
    p.child.kill('SIGTERM');
    await eventually(() => p.stdout.some((l) => l.includes('signal received')), 5_000, 'the drain to begin');
    const t0 = Date.now();
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 143, p.stdout.join('\n'));
    assert.ok(Date.now() - t0 < 5_000, 'it did not wait for the attempt in flight');
    assertJsonLines(p);
  });
});
