import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stopOrphan } from '../../src/storage/embedded.js';
import { STATEMENT_TIMEOUT_MS, createPool } from '../../src/storage/pool.js';
import { freshDatabase, type TestDatabase } from '../kit/index.js';

// The connection pool's promises: every connection carries the statement
// timeout, whatever the URL adds; a connection dropped under a checked-out
// client does not crash the process. And the embedded server's orphan check
// stops only a postgres of its own data directory.

describe('storage: the pool and the embedded server', () => {
  let db: TestDatabase;

  before(async () => {
    db = await freshDatabase('st_pool');
  });
  after(() => db.close());

  it("a URL's ?options= adds to the statement timeout instead of replacing it", async () => {
    const u = new URL(db.url);
    u.searchParams.set('options', '-c work_mem=8MB');
    const pool = createPool(u.toString(), 1);
    try {
      const { rows } = await pool.query<{ t: string; w: string }>(
        "SELECT current_setting('statement_timeout') AS t, current_setting('work_mem') AS w",
      );
      assert.deepEqual(rows[0], { t: `${STATEMENT_TIMEOUT_MS / 1000}s`, w: '8MB' });
    } finally {
      await pool.end();
    }
  });

  it('a checked-out client whose connection is cut emits no uncaught error', async () => {
    const pool = createPool(db.url, 2);
    try {
      const client = await pool.connect();
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const ended = new Promise((r) => client.once('end', r));
      await pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await ended;
      client.release(true);
      const { rows: after } = await pool.query<{ one: number }>('SELECT 1 AS one');
      assert.equal(after[0]!.one, 1, 'the pool goes on with a new connection');
    } finally {
      await pool.end();
    }
  });

  it('an orphan check leaves alone a live process that is not this directory’s postgres', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hookline-orphan-'));
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(path.join(dir, 'postmaster.pid'), `${other.pid}\n${dir}\n`);
      await stopOrphan(dir);
      assert.equal(other.exitCode, null);
      assert.equal(other.signalCode, null, 'the unrelated process got no signal');
    } finally {
      other.kill();
    }
  });
});
