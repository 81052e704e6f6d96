import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import {
  adminUrl,
  createKey,
  createWebhooks,
  freshDb,
  isEmbedded,
  restartEmbedded,
  stopDatabase,
  type BenchDb,
} from './lib/db.js';
import { GqlClient, PUBLISH, userPayload } from './lib/load.js';
import { startReceiver, startServer, type ReceiverProc, type ServerProc } from './lib/procs.js';
import { sleep, until } from './lib/stats.js';

// `npm run drill [-- --quick]`: fault drills with counted results. Every drill
// ends with `lost: N, duplicated: M` — lost counts acknowledged events that
// never reached the receiver, duplicated counts receipts beyond the first.

const quick = process.argv.includes('--quick');
// `--only bad`: one drill (sigkill, restart, bad, two, sweep), printed and not written to a file.
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
const runs = (name: string) => only === null || only === name;
const BURST = quick ? 1000 : 5000;
// Short attempt timeout so a killed worker's leases (leaseFor in src/domain/delivery-policy.ts) run out soon.
const FAST = { HOOKLINE_DELIVERY_TIMEOUT: '2s', HOOKLINE_POLL_INTERVAL: '500ms' };
const lines: string[] = [];

function say(line: string): void {
  lines.push(line);
  process.stdout.write(line + '\n');
}

async function publishBurst(client: GqlClient, n: number, prefix: string, concurrency = 32): Promise<string[]> {
  const ids: string[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        // A publish cut off by a fault is retried with its idempotency key, as a careful client would.
        for (let tries = 0; ; tries++) {
          try {
            const r = await client.post<{ publishEvent: { id: string } }>(PUBLISH, {
              input: {
                resource: 'USERS',
                action: 'CREATE',
                payload: userPayload(`${prefix}${i}`),
                idempotencyKey: `${prefix}${i}`,
              },
            });
            ids[i] = r.publishEvent.id;
            break;
          } catch (e) {
            if (tries > 100) throw e;
            await sleep(200);
          }
        }
      }
    }),
  );
  return ids;
}

/** Publishes through an API-only server (no worker), so the delivering servers start with the whole burst queued. */
async function queueBurst(db: BenchDb, key: string, n: number, prefix: string): Promise<string[]> {
  const api = await startServer({ env: { DATABASE_URL: db.url, HOOKLINE_WORKER: 'false' } });
  const client = new GqlClient(api.url, key);
  const ids = await publishBurst(client, n, prefix);
  await client.close();
  await api.kill();
  return ids;
}

async function tally(
  receiver: ReceiverProc,
  prefix: string,
  acknowledged: string[],
): Promise<{ lost: number; duplicated: number }> {
  const got = new Set(await receiver.ids(prefix));
  const s = await receiver.stats(prefix);
  return { lost: acknowledged.filter((id) => !got.has(id)).length, duplicated: s.duplicates };
}

async function waitAll(receiver: ReceiverProc, prefix: string, n: number, timeoutMs = 300_000): Promise<void> {
  await until(
    async () => (await receiver.stats(prefix)).unique >= n,
    timeoutMs,
    `${n} receipts on ${prefix}`,
    200,
  ).catch(() => undefined);
}

async function sigkillDrill(receiver: ReceiverProc): Promise<void> {
  say(`\n## SIGKILL during a ${BURST}-delivery burst, 5 times\n`);
  const db = await freshDb('kill');
  const key = await createKey(db, 'SUPPORT');
  await createWebhooks(db, [`${receiver.url}/ok/kill`]);
  const ids = await queueBurst(db, key, BURST, 'k');
  let server = await startServer({ env: { DATABASE_URL: db.url, ...FAST } });
  for (let k = 1; k <= 5; k++) {
    await sleep(200 + Math.random() * 1000);
    const before = (await receiver.stats('/ok/kill')).unique;
    await server.kill('SIGKILL');
    say(`- kill ${k}: after ${before} of ${BURST} distinct receipts`);
    server = await startServer({ env: { DATABASE_URL: db.url, ...FAST } });
  }
  await waitAll(receiver, '/ok/kill', BURST);
  const t = await tally(receiver, '/ok/kill', ids);
  say(`- all ${BURST} event ids received after the last restart: ${t.lost === 0 ? 'yes' : 'no'}`);
  say(`lost: ${t.lost}, duplicated: ${t.duplicated}`);
  await server.kill();
  await db.close();
}

async function postgresRestartDrill(receiver: ReceiverProc): Promise<void> {
  say(`\n## PostgreSQL restarted in the middle of a burst\n`);
  const db = await freshDb('pgrestart');
  const key = await createKey(db, 'SUPPORT');
  await createWebhooks(db, [`${receiver.url}/ok/pgr`]);
  const ids = await queueBurst(db, key, BURST, 'r');
  const server = await startServer({ env: { DATABASE_URL: db.url, ...FAST } });
  const client = new GqlClient(server.url, key);
  await sleep(300 + Math.random() * 1000);
  const before = (await receiver.stats('/ok/pgr')).unique;
  if (isEmbedded()) {
    await restartEmbedded();
    say(`- embedded PostgreSQL stopped and started after ${before} receipts`);
  } else {
    const admin = new pg.Client({ connectionString: await adminUrl() });
    await admin.connect();
    const dbName = new URL(db.url).pathname.slice(1);
    const { rowCount } = await admin.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [dbName],
    );
    await admin.end();
    say(`- terminated ${rowCount} server connections (pg_terminate_backend) after ${before} receipts`);
  }
  // Published after the fault, through the same server process: it must have recovered by itself.
  const more = await publishBurst(client, 100, 'r2-');
  await waitAll(receiver, '/ok/pgr', BURST + 100);
  const t = await tally(receiver, '/ok/pgr', [...ids, ...more]);
  say(
    `- server process restarted: no (same pid ${server.child.pid}, still running: ${server.child.exitCode === null})`,
  );
  say(`lost: ${t.lost}, duplicated: ${t.duplicated}`);
  await client.close();
  await server.kill();
  await db.close();
}

async function healthyRate(
  receiver: ReceiverProc,
  db: BenchDb,
  key: string,
  n: number,
  prefix: string,
  env: Record<string, string>,
): Promise<{ rate: number; allRate: number; ids: string[] }> {
  const publisher = await startServer({ env: { DATABASE_URL: db.url, HOOKLINE_WORKER: 'false' } });
  const client = new GqlClient(publisher.url, key);
  const ids = await publishBurst(client, n, prefix);
  await client.close();
  await publisher.kill();
  await receiver.reset();
  const server = await startServer({ env: { DATABASE_URL: db.url, ...env } });
  const t0 = Date.now();
  await waitAll(receiver, '/ok/healthy', n);
  const seconds = (Date.now() - t0) / 1000;
  const all = (await receiver.stats()).total;
  await server.kill();
  return { rate: n / seconds, allRate: all / seconds, ids };
}

async function badReceiversDrill(receiver: ReceiverProc): Promise<void> {
  say(`\n## Misbehaving destinations next to a healthy one\n`);
  const n = quick ? 500 : 2000;
  const env = { HOOKLINE_DELIVERY_TIMEOUT: '5s', HOOKLINE_RETRY_SCHEDULE: '1s,1s,1s' };
  /** The healthy webhook's rate beside `others`, on a database of its own. */
  const beside = async (label: string, others: string[]) => {
    const db = await freshDb(label);
    const key = await createKey(db, 'SUPPORT');
    await createWebhooks(db, [`${receiver.url}/ok/healthy`, ...others.map((p) => `${receiver.url}${p}`)]);
    const result = await healthyRate(receiver, db, key, n, label, env);
    const t = await tally(receiver, '/ok/healthy', result.ids);
    const seen = (await receiver.stats()).byPath;
    await db.close();
    await receiver.reset();
    return { ...result, ...t, seen };
  };
  const alone = await beside('hb', []);
  // The circuit breaker opens on the resetting and always-500 ones after 10 failures in a row and
  // probes them every 30 s to 5 min: they stop taking the worker's capacity.
  const tripped = await beside('ht', ['/reset/x', '/fail/x']);
  const mixed = await beside('hm', ['/slow/x', '/reset/x', '/flaky/x', '/hang/x', '/fail/x']);
  const pct = (r: number) => `${((r / alone.rate) * 100).toFixed(0)} % of alone`;
  say(`- healthy webhook alone: ${alone.rate.toFixed(0)} deliveries/s`);
  say(
    `- beside a resetting and an always-500 destination: ${tripped.rate.toFixed(0)} deliveries/s (${pct(tripped.rate)}; target 80 %); the bad ones saw ${JSON.stringify(tripped.seen)}`,
  );
  say(
    `- beside slow (2 s), resetting, 50 % 500, never-answering and always-500 ones: ${mixed.rate.toFixed(0)} deliveries/s (${pct(mixed.rate)}; target 50 %); the bad ones saw ${JSON.stringify(mixed.seen)}`,
  );
  say(
    `- the 50 % one never opens its circuit (no 10 failures in a row) and keeps its share; the slow and silent ones hold only their 10 slots each`,
  );
  say(
    `lost: ${alone.lost + tripped.lost + mixed.lost}, duplicated: ${alone.duplicated + tripped.duplicated + mixed.duplicated}`,
  );
}

async function twoInstancesDrill(receiver: ReceiverProc): Promise<void> {
  say(`\n## Two instances on one database, one killed mid-burst\n`);
  const db = await freshDb('two');
  const key = await createKey(db, 'SUPPORT');
  await createWebhooks(db, [`${receiver.url}/ok/two`]);
  const ids = await queueBurst(db, key, BURST, 't');
  const [a, b]: [ServerProc, ServerProc] = await Promise.all([
    startServer({ env: { DATABASE_URL: db.url, ...FAST } }),
    startServer({ env: { DATABASE_URL: db.url, ...FAST } }),
  ]);
  await sleep(300 + Math.random() * 1000);
  const before = (await receiver.stats('/ok/two')).unique;
  await a.kill('SIGKILL');
  say(`- instance A killed after ${before} of ${BURST} receipts; B carries on`);
  await waitAll(receiver, '/ok/two', BURST);
  const t = await tally(receiver, '/ok/two', ids);
  say(`lost: ${t.lost}, duplicated: ${t.duplicated}`);
  await b.kill();
  await db.close();
}

async function badInputSweep(): Promise<void> {
  say(`\n## Bad-input sweep\n`);
  const db = await freshDb('sweep');
  const key = await createKey(db, 'SUPPORT');
  await createWebhooks(db, ['https://example.com/existing']);
  const server = await startServer({ env: { DATABASE_URL: db.url, HOOKLINE_ALLOW_PRIVATE_DESTINATIONS: 'false' } });
  const counts = async () =>
    (
      await db.pool.query(
        `SELECT (SELECT count(*) FROM webhooks) w, (SELECT count(*) FROM webhook_subscriptions) s, (SELECT count(*) FROM events) e, (SELECT count(*) FROM deliveries) d, (SELECT count(*) FROM api_keys) k`,
      )
    ).rows[0];
  const before = JSON.stringify(await counts());
  const cases = sweepCases();
  let clear = 0;
  const unclear: string[] = [];
  for (const c of cases) {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': c.contentType ?? 'application/json', authorization: `Bearer ${key}` },
      body: c.body,
    });
    const text = await res.text();
    let ok: boolean;
    try {
      const json = JSON.parse(text) as { errors?: { message: string; extensions?: { code?: string } }[] };
      const e = json.errors?.[0];
      ok =
        res.status < 500 &&
        !!e &&
        typeof e.message === 'string' &&
        e.message.length > 0 &&
        ['BAD_USER_INPUT', 'NOT_FOUND', 'FORBIDDEN', 'UNAUTHENTICATED', 'CONFLICT'].includes(e.extensions?.code ?? '');
    } catch {
      ok = false;
    }
    if (ok) clear++;
    else unclear.push(`${c.name} → ${res.status} ${text.slice(0, 120)}`);
  }
  const alive = (await fetch(`http://127.0.0.1:${server.port}/healthz`)).ok && server.child.exitCode === null;
  const after = JSON.stringify(await counts());
  say(
    `- ${cases.length} hostile requests; answered with a clear error: ${clear}; server alive afterwards: ${alive ? 'yes' : 'no'}; rows added: ${before === after ? 0 : `${before} → ${after}`}`,
  );
  for (const u of unclear) say(`  - unclear: ${u}`);
  say(`lost: 0, duplicated: 0`);
  await server.kill();
  await db.close();
}

function sweepCases(): { name: string; body: string; contentType?: string }[] {
  const q = (query: string, variables?: unknown) => JSON.stringify({ query, variables });
  const create = (input: Record<string, unknown>) =>
    q('mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id } }', { i: input });
  const publish = (input: Record<string, unknown>) =>
    q('mutation($i: PublishEventInput!) { publishEvent(input: $i) { id } }', { i: input });
  const ok = { name: 'n', destinationUrl: 'https://example.com/h' };
  const cases: { name: string; body: string; contentType?: string }[] = [
    { name: 'not JSON', body: '{"query": ' },
    { name: 'JSON array of garbage', body: '[1,2,3]' },
    { name: 'no query', body: '{}' },
    { name: 'query is a number', body: '{"query": 42}' },
    { name: 'syntax error', body: q('{ webhooks { ') },
    { name: 'unknown field', body: q('{ nope }') },
    { name: 'unknown mutation', body: q('mutation { dropTables }') },
    { name: 'text/plain body', body: q('{ __typename }'), contentType: 'text/plain' },
    { name: 'variables wrong type', body: q('query($f: Int) { webhooks(first: $f) { totalCount } }', { f: 'ten' }) },
    { name: 'first: 10^9', body: q('{ webhooks(first: 1000000000) { totalCount } }') },
    { name: 'first: -1', body: q('{ webhooks(first: -1) { totalCount } }') },
    { name: 'bad cursor', body: q('{ webhooks(after: "DROP TABLE") { totalCount } }') },
    { name: 'unknown enum', body: q('{ webhooks(status: EXPLODED) { totalCount } }') },
    {
      name: 'deep nesting',
      body: q(
        `{ webhooks { edges { node { deliveries { edges { node { webhook { deliveries { edges { node { event { deliveries { webhook { deliveries { edges { node { id } } } } } } } } } } } } } } } } }`,
      ),
    },
    {
      name: '1,000 aliases of a list',
      body: q(
        `{ ${Array.from({ length: 1000 }, (_, i) => `a${i}: webhooks(first: 100) { edges { node { deliveries(first: 100) { edges { node { attempts { id } } } } } } }`).join(' ')} }`,
      ),
    },
    { name: 'huge string name', body: create({ ...ok, name: 'x'.repeat(100_000) }) },
    { name: 'empty name', body: create({ ...ok, name: '' }) },
    { name: 'name with injection', body: create({ ...ok, name: "'; DROP TABLE webhooks; --".repeat(10) }) },
    { name: 'URL javascript:', body: create({ ...ok, destinationUrl: 'javascript:alert(1)' }) },
    { name: 'URL file:', body: create({ ...ok, destinationUrl: 'file:///etc/passwd' }) },
    { name: 'URL localhost', body: create({ ...ok, destinationUrl: 'http://localhost:5432/' }) },
    { name: 'URL metadata IP', body: create({ ...ok, destinationUrl: 'http://169.254.169.254/latest/meta-data' }) },
    { name: 'URL IPv6 loopback', body: create({ ...ok, destinationUrl: 'http://[::1]/' }) },
    { name: 'URL IPv4-mapped loopback', body: create({ ...ok, destinationUrl: 'http://[::ffff:127.0.0.1]/' }) },
    { name: 'URL decimal loopback', body: create({ ...ok, destinationUrl: 'http://2130706433/' }) },
    { name: 'URL with credentials', body: create({ ...ok, destinationUrl: 'https://admin:pw@example.com/' }) },
    { name: 'URL 3000 chars', body: create({ ...ok, destinationUrl: `https://example.com/${'a'.repeat(3000)}` }) },
    { name: 'URL relative', body: create({ ...ok, destinationUrl: '/hooks' }) },
    { name: 'bearer token with CRLF', body: create({ ...ok, bearerToken: 'abc\r\nX-Evil: 1' }) },
    { name: 'bad whsec secret', body: create({ ...ok, hmacSecret: 'whsec_***' }) },
    { name: 'USERS/COMPLETE', body: create({ ...ok, subscriptions: [{ resource: 'USERS', action: 'COMPLETE' }] }) },
    {
      name: 'duplicate subscriptions',
      body: create({
        ...ok,
        subscriptions: [
          { resource: 'USERS', action: 'CREATE' },
          { resource: 'USERS', action: 'CREATE' },
        ],
      }),
    },
    { name: 'unknown resource', body: create({ ...ok, subscriptions: [{ resource: 'ROBOTS', action: 'CREATE' }] }) },
    { name: 'subscriptions not a list', body: create({ ...ok, subscriptions: 'all' }) },
    { name: 'name is an object', body: create({ ...ok, name: { $gt: '' } }) },
    { name: 'missing destinationUrl', body: create({ name: 'x' }) },
    { name: 'extra input field', body: create({ ...ok, admin: true }) },
    { name: 'payload missing id', body: publish({ resource: 'USERS', action: 'CREATE', payload: { name: 'x' } }) },
    { name: 'payload id boolean', body: publish({ resource: 'USERS', action: 'CREATE', payload: { id: true } }) },
    { name: 'payload is a string', body: publish({ resource: 'USERS', action: 'CREATE', payload: 'id=1' }) },
    { name: 'payload is an array', body: publish({ resource: 'USERS', action: 'CREATE', payload: [{ id: 1 }] }) },
    {
      name: 'payload too large',
      body: publish({ resource: 'USERS', action: 'CREATE', payload: { id: '1', bio: 'x'.repeat(300_000) } }),
    },
    {
      name: 'enrollment progress 7',
      body: publish({ resource: 'ENROLLMENTS', action: 'UPDATE', payload: { id: '1', progress: 7 } }),
    },
    {
      name: 'enrollment state bogus',
      body: publish({ resource: 'ENROLLMENTS', action: 'UPDATE', payload: { id: '1', state: 'exploded' } }),
    },
    {
      name: 'COURSES/COMPLETE publish',
      body: publish({ resource: 'COURSES', action: 'COMPLETE', payload: { id: '1' } }),
    },
    {
      name: 'occurredAt garbage',
      body: publish({ resource: 'USERS', action: 'CREATE', payload: { id: '1' }, occurredAt: 'yesterday' }),
    },
    {
      name: 'idempotency key 1000 chars',
      body: publish({ resource: 'USERS', action: 'CREATE', payload: { id: '1' }, idempotencyKey: 'k'.repeat(1000) }),
    },
    { name: 'webhook id injection', body: q(`mutation { deleteWebhook(id: "1' OR '1'='1") }`) },
    { name: 'webhook id huge', body: q(`mutation { pauseWebhook(id: "${'9'.repeat(10_000)}") { id } }`) },
    {
      name: 'redeliver unknown',
      body: q(`mutation { redeliver(deliveryId: "00000000-0000-4000-8000-000000000000") { id } }`),
    },
    { name: 'revoke unknown key', body: q(`mutation { revokeApiKey(id: "not-a-uuid") { id } }`) },
    { name: 'api key bad role', body: q(`mutation { createApiKey(name: "x", role: ROOT) { token } }`) },
    {
      name: 'retryFailed future since',
      body: q(
        `mutation { retryFailedDeliveries(webhookId: "00000000-0000-4000-8000-000000000000", since: "2999-01-01T00:00:00Z") }`,
      ),
    },
    { name: 'since not a date', body: q(`mutation { retryFailedDeliveries(webhookId: "x", since: "soon") }`) },
    { name: 'NUL bytes in name', body: create({ ...ok, name: 'a\u0000b' }) },
    { name: 'directive abuse', body: q(`{ ${'__typename @skip(if: false) '.repeat(2000)} }`) },
    {
      name: 'batched array of 1000 queries',
      body: JSON.stringify(Array.from({ length: 1000 }, () => ({ query: '{ __typename }' }))),
    },
  ];
  return cases;
}

async function main(): Promise<void> {
  say('# Fault drills');
  say(
    `\nWritten by \`npm run drill\`${quick ? ' --quick' : ''} on ${new Date().toISOString()}; database: ${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded'}.`,
  );
  const receiver = await startReceiver();
  if (runs('sigkill')) await sigkillDrill(receiver);
  await receiver.reset();
  if (runs('restart')) await postgresRestartDrill(receiver);
  await receiver.reset();
  if (runs('bad')) await badReceiversDrill(receiver);
  if (runs('two')) await twoInstancesDrill(receiver);
  if (runs('sweep')) await badInputSweep();
  await receiver.stop();
  await stopDatabase();
  if (only !== null) return;
  const file = quick ? 'DRILLS.quick.md' : 'BENCHMARKS.md';
  let existing = '';
  try {
    existing = readFileSync(file, 'utf8');
  } catch {
    /* new */
  }
  const marker = '<!-- drills -->';
  const head = existing.includes(marker)
    ? existing.slice(0, existing.indexOf(marker))
    : existing
      ? existing + '\n'
      : '';
  writeFileSync(file, `${head}${marker}\n${lines.join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  async (err) => {
    process.stderr.write(`drill failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    await stopDatabase().catch(() => undefined);
    process.exit(1);
  },
);
