import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { hashToken, newApiToken } from '../src/domain/tokens.js';
import { freshDatabase } from '../test/kit/db.js';
import { repoPath } from '../test/kit/paths.js';
import { spawnServer } from '../test/kit/server.js';
import { adminUrl, stopDatabase } from './lib/db.js';
import { GqlClient, PUBLISH, userPayload } from './lib/load.js';
import { startReceiver, type ReceiverProc } from './lib/procs.js';
import { summary, until } from './lib/stats.js';

// `npm run bench:compare -- <git revision> [--rounds 3] [--events 5000]`: the
// publish rate and the delivery drain of this build against another
// revision's, rounds interleaved (base, this, base, this …), each on a fresh
// database that the build migrates itself, with a webhook that has a bearer
// token and an HMAC secret (the same work for both builds), so every
// per-publish and per-delivery cost of a change shows. The publishes (32 at a
// time, one event each, to a server without a worker) are timed as the
// drain's setup. Prints medians with min and max, and the ratios.

const args = process.argv.slice(2);
const rev = args.find((a) => !a.startsWith('--'));
const opt = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const ROUNDS = opt('rounds', 3);
const EVENTS = opt('events', 5000);

/** A checkout of `revision` under /tmp, built with this checkout's node_modules when the lock files agree. */
function baseline(revision: string): string {
  const sha = execFileSync('git', ['rev-parse', '--short', revision], { cwd: repoPath(), encoding: 'utf8' }).trim();
  const dir = `/tmp/hookline-baseline-${sha}`;
  if (!existsSync(dir))
    execFileSync('git', ['worktree', 'add', '--detach', dir, sha], { cwd: repoPath(), stdio: 'ignore' });
  if (!existsSync(path.join(dir, 'node_modules'))) {
    const same =
      readFileSync(path.join(dir, 'package-lock.json'), 'utf8') === readFileSync(repoPath('package-lock.json'), 'utf8');
    if (same) symlinkSync(repoPath('node_modules'), path.join(dir, 'node_modules'));
    else execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, stdio: 'ignore' });
  }
  execFileSync('npx', ['tsc', '-p', '.'], { cwd: dir, stdio: 'ignore' });
  return path.join(dir, 'dist');
}

interface Rates {
  publish: number;
  drain: number;
}

async function drain(distRoot: string | undefined, receiver: ReceiverProc, label: string): Promise<Rates> {
  const db = await freshDatabase(`cmp_${label}`, { migrated: false, server: await adminUrl(), dropOnClose: true });
  try {
    // The build migrates its own database; the key and the webhook go in through its API.
    const api = await spawnServer(db, { distRoot, env: { HOOKLINE_WORKER: 'false', HOOKLINE_LOG_LEVEL: 'warn' } });
    await api.ready(60_000);
    const token = newApiToken();
    await db.pool.query(`INSERT INTO api_keys (name, role, token_hash) VALUES ('compare', 'SUPPORT', $1)`, [
      hashToken(token),
    ]);
    const client = new GqlClient(api.url, token);
    const input = {
      name: 'compare',
      destinationUrl: `${receiver.url}/ok/cmp`,
      bearerToken: 'bearer-token',
      hmacSecret: `whsec_${Buffer.alloc(24, 3).toString('base64')}`,
      subscriptions: [{ resource: 'USERS', action: 'CREATE' }],
    };
    await client.post('mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { id } }', { i: input });
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < EVENTS) {
          const i = next++;
          await client.post(PUBLISH, { input: { resource: 'USERS', action: 'CREATE', payload: userPayload(`c${i}`) } });
        }
      }),
    );
    const publish = EVENTS / ((performance.now() - started) / 1000);
    await client.close();
    await api.stop();
    await receiver.reset();
    // PROF=1: a CPU profile of each drain, in /tmp/prof-<label>.
    const nodeArgs = process.env.PROF ? ['--cpu-prof', `--cpu-prof-dir=/tmp/prof-${label}`] : [];
    const worker = await spawnServer(db, {
      distRoot,
      nodeArgs,
      env: { HOOKLINE_LOG_LEVEL: 'warn', HOOKLINE_POLL_INTERVAL: '2s', HOOKLINE_DB_POOL_SIZE: '10' },
    });
    await worker.ready(60_000);
    await until(async () => (await receiver.stats('/ok/cmp')).unique >= EVENTS, 300_000, `${label}: the drain`, 100);
    const s = await receiver.stats('/ok/cmp');
    await worker.stop();
    return { publish, drain: (EVENTS - 1) / (Number(BigInt(s.lastNs) - BigInt(s.firstNs)) / 1e9) };
  } finally {
    await db.close();
  }
}

async function main(): Promise<void> {
  if (!rev) throw new Error('usage: npm run bench:compare -- <git revision> [--rounds N] [--events N]');
  const base = baseline(rev);
  const receiver = await startReceiver();
  const rates: Record<'base' | 'head', Rates[]> = { base: [], head: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    rates.base.push(await drain(base, receiver, 'base'));
    rates.head.push(await drain(undefined, receiver, 'head'));
    const [b, h] = [rates.base.at(-1)!, rates.head.at(-1)!];
    process.stderr.write(
      `round ${round}: ${rev} publish ${b.publish.toFixed(0)}/s, drain ${b.drain.toFixed(0)}/s; ` +
        `this build publish ${h.publish.toFixed(0)}/s, drain ${h.drain.toFixed(0)}/s\n`,
    );
  }
  await receiver.stop();
  await stopDatabase();
  const lines = (figure: keyof Rates, what: string) => {
    const b = summary(rates.base.map((r) => r[figure]));
    const h = summary(rates.head.map((r) => r[figure]));
    const r = summary(rates.head.map((x, i) => x[figure] / rates.base[i]![figure]));
    return [
      `${what}, ${ROUNDS} interleaved rounds (median, min–max):`,
      `  ${rev}: ${b.median.toFixed(0)}/s (${b.min.toFixed(0)}–${b.max.toFixed(0)})`,
      `  this build: ${h.median.toFixed(0)}/s (${h.min.toFixed(0)}–${h.max.toFixed(0)})`,
      `  this build ÷ ${rev}, per round: ${r.median.toFixed(3)} (${r.min.toFixed(3)}–${r.max.toFixed(3)})`,
    ];
  };
  process.stdout.write(
    [
      ...lines('publish', `publish, ${EVENTS} events, 32 at a time, to a server without a worker`),
      ...lines('drain', `delivery drain, ${EVENTS} signed events to one webhook`),
      '',
    ].join('\n'),
  );
}

main().then(
  () => process.exit(0),
  async (err) => {
    process.stderr.write(`compare failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    await stopDatabase().catch(() => undefined);
    process.exit(1);
  },
);
