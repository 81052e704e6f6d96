import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, statSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { open, parseKeyring, placeOf } from '../../src/domain/secret-box.js';
import {
  TEST_SECRET_KEYS,
  eventually,
  freshDatabase,
  insertKeys,
  must,
  openStored,
  receivedAt,
  runCli,
  spawnServer,
  startReceiver,
  startServer,
  uniquePath,
  type Receiver,
  type TestServer,
} from '../kit/index.js';

// Secrets at rest: a dump of the database holds none of the secrets given to
// the API (bearer tokens, HMAC secrets, generated signing keys), deliveries
// still verify, a missing or wrong key stops the start naming the key id, an
// unset HOOKLINE_SECRET_KEYS generates a key file of mode 0600, and the CLI
// moves every value to a new key.

const run = promisify(execFile);

/** pg_dump of the database; when pg_dump is older than the server (embedded PostgreSQL 18), every table's rows as COPY text. */
async function dump(s: TestServer): Promise<string> {
  try {
    return (await run('pg_dump', ['--dbname', s.db.url, '--data-only'], { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (e) {
    if (!/server version mismatch|ENOENT/.test(String((e as { stderr?: string }).stderr ?? e))) throw e;
    const { rows } = await s.db.pool.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`);
    let out = '';
    for (const { tablename } of rows) {
      const data = await s.db.pool.query(`SELECT * FROM ${tablename}`);
      out += JSON.stringify(data.rows);
    }
    return out;
  }
}

describe('secrets at rest', () => {
  let s: TestServer;
  let r: Receiver;

  before(async () => {
    s = await startServer('secrets');
    r = await startReceiver();
  });
  after(async () => {
    await s?.stop();
    await r?.close();
  });

  it('a dump holds none of the secrets, and deliveries still verify', async () => {
    const bearer = `bearer-${randomUUID()}`;
    const hmac = `whsec_${randomBytes(24).toString('base64')}`;
    const p = uniquePath('dump');
    const res = await s.gql(`mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id signingPublicKey } }`, {
      i: {
        name: 'dumped',
        destinationUrl: `${r.url}${p}`,
        bearerToken: bearer,
        hmacSecret: hmac,
        generateSigningKey: true,
        subscriptions: [{ resource: 'USERS', action: 'CREATE' }],
      },
    });
    const { id } = must(res, 'create').createWebhook;
    const generated = must(
      await s.gql(
        `mutation { createWebhook(input: {name: "gen", destinationUrl: "${r.url}${p}-g", generateHmacSecret: true}) { id generatedHmacSecret } }`,
      ),
      'create',
    ).createWebhook;
    const { rows } = await s.db.pool.query('SELECT signing_key FROM webhooks WHERE id = $1', [id]);
    const privateKey = openStored('signing_key', id, rows[0].signing_key)!;

    const text = await dump(s);
    assert.ok(text.includes('dumped'), 'the dump has the webhooks');
    for (const [what, secret] of [
      ['bearer token', bearer],
      ['HMAC secret', hmac],
      ['HMAC secret without prefix', hmac.slice(6)],
      ['generated HMAC secret', generated.generatedHmacSecret],
      ['signing key', privateKey],
    ] as const) {
      assert.ok(!text.includes(secret), `the dump holds the ${what}`);
    }

    const { publishEvent } = must(
      await s.gql(
        'mutation { publishEvent(input: {resource: USERS, action: CREATE, payload: {id: "d-1"}}) { id } }',
        {},
        'PUBLISHER',
      ),
      'publish',
    );
    const m = await eventually(() => receivedAt(r, p).find((x) => x.headers['webhook-id'] === publishEvent.id));
    assert.equal(m.headers.authorization, `Bearer ${bearer}`);
    assert.doesNotThrow(() => new StandardWebhook(hmac).verify(m.body, m.headers as Record<string, string>));
  });
});

describe('the secret keys at start', () => {
  it('a missing key or a wrong one stops the start, naming the key id it needs', async () => {
    const db = await freshDatabase('secrets_keys');
    const keys = await insertKeys(db);
    try {
      const first = await spawnServer(db, { keys });
      await first.ready();
      await first.gql(
        `mutation { createWebhook(input: {name: "k", destinationUrl: "http://127.0.0.1:9/x", bearerToken: "t0ken"}) { id } }`,
      );
      await first.stop();

      const other = `other:${randomBytes(32).toString('base64')}`;
      const missing = await spawnServer(db, { keys, env: { HOOKLINE_SECRET_KEYS: other } });
      assert.equal(await missing.exited, 1);
      const fatal = missing.stdout.map((l) => JSON.parse(l)).find((l) => l.msg === 'failed to start');
      assert.match(fatal.err.message, /sealed with key test, which HOOKLINE_SECRET_KEYS does not have/);
      assert.ok(!missing.stdout.join('').includes(other.slice(6)), 'the log does not show the key');

      const wrong = await spawnServer(db, {
        keys,
        env: { HOOKLINE_SECRET_KEYS: `test:${randomBytes(32).toString('base64')}` },
      });
      assert.equal(await wrong.exited, 1);
      assert.match(wrong.stdout.join('\n'), /key test in HOOKLINE_SECRET_KEYS does not open/);

      const both = await spawnServer(db, { keys, env: { HOOKLINE_SECRET_KEYS: `${other},${TEST_SECRET_KEYS}` } });
      await both.ready();
      await both.stop();
    } finally {
      await db.close();
    }
  });

  it('without HOOKLINE_SECRET_KEYS a key is generated once into HOOKLINE_DATA_DIR (mode 0600), with a warning', async () => {
    const db = await freshDatabase('secrets_generated');
    const keys = await insertKeys(db);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hookline-keys-'));
    try {
      const env = { HOOKLINE_SECRET_KEYS: '', HOOKLINE_DATA_DIR: dir };
      const p = await spawnServer(db, { keys, env });
      await p.ready();
      await p.stop();
      const file = path.join(dir, 'secret-keys');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const key = readFileSync(file, 'utf8');
      assert.match(key, /^k1:[A-Za-z0-9+/]{43}=\n$/);
      const warning = p.stdout.map((l) => JSON.parse(l)).find((l) => /generated a secret key/.test(l.msg));
      assert.ok(warning, 'a warning says so');
      assert.match(warning.msg, /must all be given the same keys in HOOKLINE_SECRET_KEYS/);
      assert.ok(!p.stdout.join('').includes(key.slice(3).trim()), 'the key is not logged');
      const again = await spawnServer(db, { keys, env });
      await again.ready();
      await again.stop();
      assert.equal(readFileSync(file, 'utf8'), key, 'made once');
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await db.close();
    }
  });

  it('hookline secrets reencrypt moves every value to the new key; status counts values per key; the old key can go', async () => {
    const db = await freshDatabase('secrets_reencrypt');
    const keys = await insertKeys(db);
    try {
      const server = await spawnServer(db, { keys });
      await server.ready();
      for (let i = 0; i < 3; i++) {
        await server.gql(
          `mutation { createWebhook(input: {name: "r${i}", destinationUrl: "http://127.0.0.1:9/${i}", bearerToken: "tok-${i}", generateHmacSecret: true, generateSigningKey: true}) { id } }`,
        );
      }
      await server.stop();
      const next = `next:${randomBytes(32).toString('base64')}`;
      const env = { DATABASE_URL: db.url, HOOKLINE_SECRET_KEYS: `${next},${TEST_SECRET_KEYS}` };
      const before = await runCli(['secrets', 'status', '--json'], env);
      assert.equal(before.code, 0, before.stderr);
      assert.deepEqual(JSON.parse(before.stdout), { currentKey: 'next', values: { test: 9 } });

      const moved = await runCli(['secrets', 'reencrypt', '--batch', '2'], env);
      assert.equal(moved.code, 0, moved.stderr);
      assert.match(moved.stderr, /reencrypt: 2 webhooks, 6 values moved/);
      assert.match(moved.stderr, /reencrypt: 3 webhooks, 9 values moved/);
      const after = await runCli(['secrets', 'status', '--json'], env);
      assert.deepEqual(JSON.parse(after.stdout), { currentKey: 'next', values: { next: 9 } });

      // Only the new key now: the server starts and the values open.
      const onlyNext = await spawnServer(db, { keys, env: { HOOKLINE_SECRET_KEYS: next } });
      await onlyNext.ready();
      await onlyNext.stop();
      const { rows } = await db.pool.query(
        `SELECT action, actor_name FROM audit_log WHERE action = 'secrets.reencrypted'`,
      );
      assert.deepEqual(rows, [{ action: 'secrets.reencrypted', actor_name: 'cli' }]);
    } finally {
      await db.close();
    }
  });

  it('secret custom headers: checked at start, counted by status, moved by reencrypt, still opening', async () => {
    const db = await freshDatabase('secrets_headers');
    const keys = await insertKeys(db);
    try {
      const server = await spawnServer(db, { keys });
      await server.ready();
      const created = must(
        await server.gql(
          `mutation { createWebhook(input: {name: "h", destinationUrl: "http://127.0.0.1:9/h", headers: [
             {name: "X-Api-Key", value: "key-one", secret: true}, {name: "X-Plain", value: "plain"},
             {name: "X-Other", value: "key-two", secret: true}]}) { id } }`,
        ),
      ).createWebhook as { id: string };
      await server.stop();

      const other = `other:${randomBytes(32).toString('base64')}`;
      const missing = await spawnServer(db, { keys, env: { HOOKLINE_SECRET_KEYS: other } });
      assert.equal(await missing.exited, 1);
      assert.match(missing.stdout.join('\n'), /2 stored secret\(s\) \(webhooks\.headers\) were sealed with key test/);

      const next = `next:${randomBytes(32).toString('base64')}`;
      const env = { DATABASE_URL: db.url, HOOKLINE_SECRET_KEYS: `${next},${TEST_SECRET_KEYS}` };
      assert.deepEqual(JSON.parse((await runCli(['secrets', 'status', '--json'], env)).stdout), {
        currentKey: 'next',
        values: { test: 2 },
      });
      const moved = await runCli(['secrets', 'reencrypt'], env);
      assert.equal(moved.code, 0, moved.stderr);
      assert.match(moved.stderr, /reencrypt: 1 webhooks, 2 values moved/);
      assert.deepEqual(JSON.parse((await runCli(['secrets', 'status', '--json'], env)).stdout).values, { next: 2 });
      const onlyNext = await spawnServer(db, { keys, env: { HOOKLINE_SECRET_KEYS: next } });
      await onlyNext.ready();
      await onlyNext.stop();
      const { rows } = await db.pool.query('SELECT headers FROM webhooks WHERE id = $1', [created.id]);
      const ring = parseKeyring(next);
      const opened = (rows[0].headers as { name: string; sealed?: string; value?: string }[]).map((h) =>
        h.sealed ? open(ring, h.sealed, placeOf('webhooks', `headers.${h.name.toLowerCase()}`, created.id)) : h.value,
      );
      assert.deepEqual(opened, ['key-one', 'plain', 'key-two']);
    } finally {
      await db.close();
    }
  });
});
