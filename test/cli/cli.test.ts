import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MIGRATIONS } from '../../migrations/index.js';
import { DEFAULT_ACCOUNT_ID } from '../../src/domain/accounts.js';
import {
  SCHEMA_TABLES,
  freshDatabase,
  runCli as run,
  startServer,
  type CliRun as Run,
  type TestDatabase,
} from '../kit/index.js';

// The hookline CLI as an operator runs it: a real process against a real,
// initially empty, database.

const TOKEN = /^hkl_[A-Za-z0-9_-]{43}$/;

describe('hookline CLI', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let token: string;
  let keyId: string;
  // Runs that touch no database start at once, alongside the others.
  let early: Promise<[Run, Run]>;
  let unknown: Run;

  before(async () => {
    db = await freshDatabase('cli', { migrated: false });
    env = { DATABASE_URL: db.url };
    early = Promise.all([
      run(['api-keys', 'create', '--role', 'bogus', '--name', 'bogus-role-key'], env),
      run(['migrate'], { ...env, PORT: 'abc' }),
    ]);
  });
  after(async () => {
    await db?.close();
  });

  const fmt = (r: Run) => `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

  // Each CLI process spends seconds loading modules: independent runs go side by side.

  it('migrate: exit 0, creates the tables', async () => {
    const r = await run(['migrate'], env);
    assert.equal(r.code, 0, fmt(r));
    assert.match(r.stderr, new RegExp(`applied: ${MIGRATIONS.map((M) => new M().name).join(', ')}`));
    const { rows } = await db.pool.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    assert.deepEqual(
      rows.map((x) => x.table_name),
      SCHEMA_TABLES,
    );
  });

  it('api-keys create: exit 0, stdout is exactly the token; the DB keeps only its hash', async () => {
    const r = await run(['api-keys', 'create', '--name', 'ci', '--role', 'publisher'], env);
    assert.equal(r.code, 0, fmt(r));
    const lines = r.stdout.split('\n');
    assert.equal(lines.length, 2, `one line and its newline: ${JSON.stringify(r.stdout)}`);
    assert.equal(lines[1], '');
    token = lines[0]!;
    assert.match(token, TOKEN);
    assert.ok(!r.stderr.includes(token), 'the token goes to stdout only');

    const { rows } = await db.pool.query('SELECT id, name, role, token_hash, revoked_at FROM api_keys');
    assert.equal(rows.length, 1);
    keyId = rows[0].id;
    assert.deepEqual(
      { name: rows[0].name, role: rows[0].role, revoked_at: rows[0].revoked_at },
      { name: 'ci', role: 'PUBLISHER', revoked_at: null },
    );
    assert.equal(rows[0].token_hash, createHash('sha256').update(token).digest('hex'));
    assert.match(r.stderr, new RegExp(keyId), 'stderr names the new key');
  });

  it('api-keys list shows id and role, never the token; migrate again applies nothing', async () => {
    let r: Run;
    let again: Run;
    [r, again, unknown] = await Promise.all([
      run(['api-keys', 'list'], env),
      run(['migrate'], env),
      run(['api-keys', 'revoke', '00000000-0000-4000-8000-000000000000'], env),
    ]);
    assert.equal(r.code, 0, fmt(r));
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, fmt(r));
    assert.ok(lines[0]!.includes(keyId), fmt(r));
    assert.match(lines[0]!, /PUBLISHER/);
    assert.match(lines[0]!, /\bactive\b/);
    assert.match(lines[0]!, /\bci$/);
    const all = r.stdout + r.stderr;
    assert.ok(!all.includes(token) && !all.includes(token.slice(4)), 'list shows the token');
    assert.ok(!all.includes(createHash('sha256').update(token).digest('hex')), 'list shows the hash');

    assert.equal(again.code, 0, fmt(again));
    assert.match(again.stderr, /nothing to apply/);
    assert.equal(again.stdout, '');
  });

  it('a CLI-made key authenticates against the API with its role', async () => {
    const s = await startServer('cli_server', { env: { HOOKLINE_WORKER: 'false' }, db });
    try {
      const v = await s.gql('{ viewer { id role name } }', {}, token);
      assert.deepEqual(v, { data: { viewer: { id: keyId, role: 'PUBLISHER', name: 'ci' } } });
    } finally {
      await s.stop();
    }
  });

  it('api-keys revoke <id>: exit 0, list shows it revoked', async () => {
    const r = await run(['api-keys', 'revoke', keyId], env);
    assert.equal(r.code, 0, fmt(r));
    assert.match(r.stderr, new RegExp(`revoked ${keyId}`));
    const { rows } = await db.pool.query('SELECT revoked_at FROM api_keys WHERE id = $1', [keyId]);
    assert.ok(rows[0].revoked_at instanceof Date);

    const l = await run(['api-keys', 'list'], env);
    assert.equal(l.code, 0, fmt(l));
    const line = l.stdout.split('\n').find((x) => x.includes(keyId));
    assert.ok(line, fmt(l));
    assert.match(line, /\brevoked\b/);
    assert.doesNotMatch(line, /\bactive\b/);
  });

  it('accounts create, list and delete; api-keys create --account makes a key scoped to it', async () => {
    const c = await run(['accounts', 'create', '--key', 'cli-domain', '--name', 'CLI customer'], env);
    assert.equal(c.code, 0, fmt(c));
    const accountId = c.stdout.trim();
    const l = await run(['accounts', 'list', '--json', '--search', 'cli-dom'], env);
    assert.deepEqual(
      l.stdout
        .trim()
        .split('\n')
        .map((x) => JSON.parse(x).key),
      ['cli-domain'],
      fmt(l),
    );
    const k = await run(
      ['api-keys', 'create', '--name', 'cli admin', '--role', 'SUPPORT', '--account', 'cli-domain'],
      env,
    );
    assert.equal(k.code, 0, fmt(k));
    const { rows } = await db.pool.query('SELECT account_id FROM api_keys WHERE name = $1', ['cli admin']);
    assert.equal(rows[0].account_id, accountId);
    const unknown = await run(['api-keys', 'create', '--name', 'x', '--role', 'VIEWER', '--account', 'nobody'], env);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /--account: no account has the key nobody/);
    const wrong = await run(['accounts', 'delete', 'cli-domain', '--confirm', 'other'], env);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /confirmKey/);
    const d = await run(['accounts', 'delete', 'cli-domain', '--confirm', 'cli-domain'], env);
    assert.equal(d.code, 0, fmt(d));
    const gone = await db.pool.query('SELECT revoked_at FROM api_keys WHERE name = $1', ['cli admin']);
    assert.ok(gone.rows[0].revoked_at instanceof Date, 'its key is revoked');
  });

  it('erase: a dry run counts; the run erases the object in the default account, audited as the CLI; refusals name the option', async () => {
    await db.pool.query(
      `INSERT INTO events (account_id, resource, action, type, payload, occurred_at)
       SELECT $1, 'USERS', 'UPDATE', 'user.updated', jsonb_build_object('id', id, 'email', id || '@example.com'), now()
       FROM unnest(ARRAY['cli-person', 'cli-person', 'cli-other']) id`,
      [DEFAULT_ACCOUNT_ID],
    );
    const emails = async () =>
      (
        await db.pool.query(`SELECT payload ->> 'id' AS id, payload ->> 'email' AS email FROM events ORDER BY 1, 2`)
      ).rows.map((x) => `${x.id}:${x.email}`);
    const dry = await run(['erase', '--resource', 'users', '--object', 'cli-person', '--dry-run'], env);
    assert.equal(dry.code, 0, fmt(dry));
    assert.deepEqual(JSON.parse(dry.stdout), { events: 2, deliveriesCancelled: 0, dryRun: true });
    assert.match(dry.stderr, /would erase 2 event\(s\) of USERS cli-person/);
    const before = await emails();
    assert.deepEqual(before, [
      'cli-other:cli-other@example.com',
      'cli-person:cli-person@example.com',
      'cli-person:cli-person@example.com',
    ]);
    const done = await run(['erase', '--resource', 'USERS', '--object', 'cli-person'], env);
    assert.equal(done.code, 0, fmt(done));
    assert.deepEqual(JSON.parse(done.stdout), { events: 2, deliveriesCancelled: 0, dryRun: false });
    assert.deepEqual(await emails(), ['cli-other:cli-other@example.com', 'cli-person:null', 'cli-person:null']);
    const { rows } = await db.pool.query(
      `SELECT actor_name, account_id, changes ->> 'events' AS events FROM audit_log WHERE action = 'object.erased'`,
    );
    assert.deepEqual(rows, [{ actor_name: 'cli', account_id: DEFAULT_ACCOUNT_ID, events: '2' }]);
    const [badResource, badAccount] = await Promise.all([
      run(['erase', '--resource', 'people', '--object', 'cli-other'], env),
      run(['erase', '--resource', 'USERS', '--object', 'cli-other', '--account', 'nobody'], env),
    ]);
    assert.equal(badResource.code, 2, fmt(badResource));
    assert.match(badResource.stderr, /--resource.*expected one of USERS, ENROLLMENTS/);
    assert.notEqual(badAccount.code, 0, fmt(badAccount));
    assert.match(badAccount.stderr, /--account: no account has the key nobody/);
    assert.deepEqual((await emails())[0], 'cli-other:cli-other@example.com', 'refusals erase nothing');
  });

  it('refusals: bad role, unknown key id, invalid environment', async () => {
    const [bogus, badPort] = await early;

    // --role bogus: non-zero, names the allowed roles, creates nothing.
    assert.notEqual(bogus.code, 0, fmt(bogus));
    for (const role of ['SUPPORT', 'PUBLISHER', 'VIEWER'])
      assert.ok(bogus.stderr.includes(role), `stderr should name ${role}: ${fmt(bogus)}`);
    assert.equal(bogus.stdout, '');
    const { rows } = await db.pool.query(`SELECT id FROM api_keys WHERE name = 'bogus-role-key'`);
    assert.deepEqual(rows, []);

    // An unknown id (run beside the list above): non-zero, and said so; nothing revoked.
    assert.notEqual(unknown.code, 0, fmt(unknown));
    assert.match(unknown.stderr, /does not exist/, fmt(unknown));
    assert.equal(unknown.stdout, '');

    // An invalid environment: exit 2, naming the variable.
    assert.equal(badPort.code, 2, fmt(badPort));
    assert.match(badPort.stderr, /PORT/);
    assert.equal(badPort.stdout, '');
  });
});
